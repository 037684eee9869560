"""SEND_MODE=smtp: hand each message to an SMTP server, locally the mailbox `make run` starts
(campaign/local/mailbox.py), so what it shows is byte for byte what SES would have been given.

Why here, beside campaign/aws rather than in it or in campaign/local: it is no AWS gateway, and the
worker's handler (which is deployed) names it in its `_sender()`, so it ships in the worker's zip
(standard library only, imported only when the mode is smtp: the cold start does not pay for it). It
is never configured there: Terraform's send_mode variable refuses smtp.

Errors are sorted as SesSender sorts SES's: not connected, refused before the message was handed over
(a 4xx reply, a dropped connection) → TransientSendError; a 5xx reply → PermanentSendError; the
connection lost or timed out while the message was being handed over → UnknownOutcomeError (the
server may have kept it, and sending it again could deliver it twice).
"""

import smtplib
from contextlib import suppress
from email.parser import BytesHeaderParser
from email.policy import default

from campaign.aws.email_gateway import PermanentSendError, TransientSendError, UnknownOutcomeError
from campaign.config import SmtpServer
from campaign.domain.addresses import ascii_address
from campaign.domain.message import Letterhead

# A local server answers in milliseconds; this only bounds a server that has stopped answering.
SMTP_TIMEOUT_SECONDS = 10.0
EHLO_NAME = "localhost"


def refusal(code: int, reply: bytes | str) -> TransientSendError | PermanentSendError:
    """An SMTP reply that refused the message: 5xx is permanent (RFC 5321 4.2.1), anything else not."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    error = f"SMTP {code}: {text}"
    return PermanentSendError(error) if 500 <= code <= 599 else TransientSendError(error)


class SmtpSender:
    def __init__(self, letterhead: Letterhead, server: SmtpServer) -> None:
        self._letterhead = letterhead
        self._server = server

    def send(self, *, send_id: str, batch_id: str, to: str, subject: str, body: str) -> str | None:
        """Delivers the message SES would get; returns its Message-ID (the provider id here)."""
        raw = self._letterhead.message_bytes(send_id=send_id, batch_id=batch_id, to=to, subject=subject, content=body)
        try:
            # A local_hostname saves the reverse DNS lookup smtplib would make for its EHLO, each send.
            smtp = smtplib.SMTP(
                self._server.host, self._server.port, local_hostname=EHLO_NAME, timeout=SMTP_TIMEOUT_SECONDS
            )
        except smtplib.SMTPResponseException as exc:  # connected, but the greeting turned us away
            raise refusal(exc.smtp_code, exc.smtp_error) from exc
        except OSError as exc:  # refused, unreachable, timed out
            raise TransientSendError(f"SMTP server {self._server.host}:{self._server.port} unreachable: {exc}") from exc
        try:
            self._hand_over(smtp, ascii_address(to), raw)
        finally:
            with suppress(OSError):  # the message's fate is decided; a failed QUIT changes nothing
                smtp.quit()
            smtp.close()
        return str(BytesHeaderParser(policy=default).parsebytes(raw)["Message-ID"])

    def _hand_over(self, smtp: smtplib.SMTP, recipient: str, raw: bytes) -> None:
        try:
            smtp.ehlo_or_helo_if_needed()
            # Non-ASCII content goes out as 8bit (email.policy.SMTP), which the server must have offered.
            options = ["BODY=8BITMIME"] if not raw.isascii() and smtp.has_extn("8bitmime") else []
            code, reply = smtp.mail(self._letterhead.composition.sender, options)
            if code != 250:
                raise refusal(code, reply)
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise refusal(code, reply)
        except smtplib.SMTPResponseException as exc:
            raise refusal(exc.smtp_code, exc.smtp_error) from exc
        except OSError as exc:  # nothing was handed over yet
            raise TransientSendError(f"SMTP conversation failed before the message was sent: {exc}") from exc
        try:
            code, reply = smtp.data(raw)
        except smtplib.SMTPDataError as exc:  # DATA itself refused: the message was never sent
            raise refusal(exc.smtp_code, exc.smtp_error) from exc
        except OSError as exc:
            raise UnknownOutcomeError(f"SMTP server did not confirm the message: {exc}") from exc
        if code != 250:
            raise refusal(code, reply)
