"""The smtp provider: hand each message to an SMTP relay (SendGrid, Mailgun, Postmark, SES's own SMTP
endpoint...), or locally to the mailbox `make run` starts (scripts/local/mailbox.py). The bytes are the
ones SES would get (Letterhead.message_bytes), so the local mailbox shows what any provider is given.

Why here, beside campaign/aws rather than in it: it is no AWS client. The worker's handler imports it
only when SEND_MODE names smtp (standard library only, so the cold start does not pay for it either way).
Deployed, Terraform allows it with TLS only; SmtpTls.NONE is for the loopback mailbox.

Security: with STARTTLS configured, a server that does not offer it is refused, never spoken to in
plain text (a man in the middle could strip the offer). Certificates are checked against the system's
CAs plus the server's ca_file, hostname included. A password is only sent over TLS, or to loopback.

Errors are sorted so that the worker knows whether to fail over: anything before MAIL FROM (connect,
TLS handshake, AUTH, a 535 included, the secret holding the login unreadable) and every 4xx reply are
TransientSendError: the message was certainly not accepted, and the trouble is the provider's. A 5xx
reply to MAIL, RCPT or DATA is PermanentSendError: the message itself is refused. The connection lost
or timed out once the message's content was going out is UnknownOutcomeError: the server may have kept
it, and sending it again, here or elsewhere, could deliver it twice.

Connections are kept, one per thread: a relay's TCP + TLS + AUTH handshake costs several round trips,
more than the message itself, and the worker sends from many threads at once. One per thread rather
than a pool because an smtplib.SMTP is not safe to share and a thread sends one message at a time, so
each thread's connection is simply the one it used last. A kept connection may have died meanwhile (the
relay's idle timeout, a frozen Lambda container): if it fails before MAIL FROM is accepted, nothing was
handed over, so it is replaced once and the message sent on the new one. Any error drops the connection
rather than reasoning about the state it left the session in.
"""

import ipaddress
import re
import smtplib
import ssl
import threading
import time
from contextlib import suppress
from email.parser import BytesHeaderParser
from email.policy import default
from typing import NamedTuple

from campaign.aws.email_gateway import PermanentSendError, TransientSendError, UnknownOutcomeError
from campaign.aws.smtp_credentials import Login, SmtpSecretError, resolve_login
from campaign.config import SmtpServer, SmtpTls
from campaign.domain.addresses import ascii_address
from campaign.domain.message import Letterhead

# Bounds a server that has stopped answering; a relay answers in well under a second.
SMTP_TIMEOUT_SECONDS = 10.0
EHLO_NAME = "localhost"
# A connection idle longer than this is closed rather than reused: relays drop idle sessions, and one
# dropped silently (no reset) would cost a whole SMTP_TIMEOUT_SECONDS to find out.
MAX_IDLE_SECONDS = 30.0
# "Service not available, closing transmission channel": what a relay says to a session it is ending.
SERVICE_CLOSING = 421
# RFC 4954's "Authentication required": the session's problem (the provider's), never the message's.
AUTH_REQUIRED = 530
_LINE_START_DOT = re.compile(rb"^\.", re.MULTILINE)


def refusal(code: int, reply: bytes | str) -> TransientSendError | PermanentSendError:
    """An SMTP reply that refused the message: 5xx is permanent (RFC 5321 4.2.1), anything else not."""
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else reply
    error = f"SMTP {code}: {text}"
    return PermanentSendError(error) if 500 <= code <= 599 and code != AUTH_REQUIRED else TransientSendError(error)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name: only "localhost" is known to stay on this machine
        return False


def data_block(raw: bytes) -> bytes:
    """The message as sent after DATA's 354: lines starting with a dot doubled, ended by a lone dot
    (RFC 5321 4.5.2), which smtplib.SMTP.data does too; sent by hand to tell a refused DATA (nothing
    sent) from a lost answer to the content (maybe delivered)."""
    block = _LINE_START_DOT.sub(b"..", raw)
    return (block if block.endswith(b"\r\n") else block + b"\r\n") + b".\r\n"


class _StaleConnection(Exception):
    """A kept connection failed before MAIL FROM was accepted: nothing was handed over on it."""


class _Kept(NamedTuple):
    smtp: smtplib.SMTP
    last_used: float


class _ThreadConnection(threading.local):
    kept: _Kept | None = None


class SmtpSender:
    def __init__(self, letterhead: Letterhead, server: SmtpServer) -> None:
        self._letterhead = letterhead
        self._server = server
        self._where = f"{server.host}:{server.port}"
        self._thread = _ThreadConnection()
        # The login and the TLS context are made once, on the first send that needs them: the secret is
        # read once per container, and not at the cold start.
        self._once = threading.Lock()
        self._login: Login | None = None
        self._login_read = False
        self._tls_context: ssl.SSLContext | None = None

    def send(self, *, send_id: str, batch_id: str, to: str, subject: str, body: str) -> str | None:
        """Delivers the message SES would get; returns its Message-ID (the provider id here)."""
        raw = self._letterhead.message_bytes(send_id=send_id, batch_id=batch_id, to=to, subject=subject, content=body)
        recipient = ascii_address(to)
        try:
            smtp = self._kept()
            if smtp is not None:
                try:
                    self._mail_from(smtp, raw, kept=True)
                except _StaleConnection:
                    self._drop()
                    smtp = None
            if smtp is None:
                smtp = self._open()
                self._mail_from(smtp, raw, kept=False)
            self._hand_over(smtp, recipient, raw)
        except BaseException:
            self._drop()
            raise
        self._thread.kept = _Kept(smtp, time.monotonic())
        return str(BytesHeaderParser(policy=default).parsebytes(raw)["Message-ID"])

    def close(self) -> None:
        """Ends this thread's connection with a QUIT, if it has one (a thread done sending)."""
        kept, self._thread.kept = self._thread.kept, None
        if kept is not None:
            with suppress(OSError):  # the server may have gone already; the socket is closed either way
                kept.smtp.quit()
            kept.smtp.close()

    def _kept(self) -> smtplib.SMTP | None:
        kept = self._thread.kept
        if kept is not None and time.monotonic() - kept.last_used > MAX_IDLE_SECONDS:
            self._drop()
            return None
        return kept.smtp if kept is not None else None

    def _drop(self) -> None:
        """Closes this thread's connection without a QUIT: a dead peer would keep QUIT waiting."""
        kept, self._thread.kept = self._thread.kept, None
        if kept is not None:
            with suppress(OSError):
                kept.smtp.close()

    def _open(self) -> smtplib.SMTP:
        """A new connection, ready for MAIL FROM: encrypted as configured and logged in if there is a
        login. It becomes this thread's connection at once, so that a failure here closes it."""
        tls = self._server.tls
        login = self._resolved_login()
        if login is not None and tls is SmtpTls.NONE and not is_loopback(self._server.host):
            raise TransientSendError(f"refusing to send the SMTP password in plain text to {self._where}")
        context = self._context() if tls is not SmtpTls.NONE else None
        try:
            if tls is SmtpTls.IMPLICIT:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self._server.host,
                    self._server.port,
                    local_hostname=EHLO_NAME,
                    timeout=SMTP_TIMEOUT_SECONDS,
                    context=context,
                )
            else:
                # A local_hostname saves the reverse DNS lookup smtplib would make for its EHLO.
                smtp = smtplib.SMTP(
                    self._server.host, self._server.port, local_hostname=EHLO_NAME, timeout=SMTP_TIMEOUT_SECONDS
                )
        except OSError as exc:  # refused, unreachable, timed out, the TLS handshake failed, the greeting turned us away
            raise TransientSendError(f"SMTP server {self._where} unreachable: {exc}") from exc
        self._thread.kept = _Kept(smtp, time.monotonic())
        try:
            self._start_session(smtp, context, login)
        except smtplib.SMTPResponseException as exc:  # EHLO, STARTTLS or AUTH refused (535: wrong login)
            raise TransientSendError(
                f"SMTP server {self._where} refused the session: {refusal(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except OSError as exc:  # the STARTTLS handshake failed (certificate), AUTH not offered, connection lost
            raise TransientSendError(f"SMTP session with {self._where} failed: {exc}") from exc
        return smtp

    def _start_session(self, smtp: smtplib.SMTP, context: ssl.SSLContext | None, login: Login | None) -> None:
        smtp.ehlo_or_helo_if_needed()
        if self._server.tls is SmtpTls.STARTTLS:
            if not smtp.has_extn("starttls"):
                raise TransientSendError(
                    f"SMTP server {self._where} does not offer STARTTLS; refusing to send in plain text"
                )
            smtp.starttls(context=context)
            smtp.ehlo_or_helo_if_needed()  # RFC 3207: what the server offers is asked again, encrypted
        if login is not None:
            smtp.login(*login)

    def _mail_from(self, smtp: smtplib.SMTP, raw: bytes, *, kept: bool) -> None:
        # Non-ASCII content goes out as 8bit (email.policy.SMTP), which the server must have offered.
        options = ["BODY=8BITMIME"] if not raw.isascii() and smtp.has_extn("8bitmime") else []
        try:
            code, reply = smtp.mail(self._letterhead.composition.sender, options)
        except OSError as exc:  # disconnected, reset, timed out: nothing was handed over
            if kept:
                raise _StaleConnection from exc
            raise TransientSendError(f"SMTP conversation failed before the message was sent: {exc}") from exc
        if kept and code == SERVICE_CLOSING:
            raise _StaleConnection
        if code != 250:
            raise refusal(code, reply)

    def _hand_over(self, smtp: smtplib.SMTP, recipient: str, raw: bytes) -> None:
        try:
            code, reply = smtp.rcpt(recipient)
            if code not in (250, 251):
                raise refusal(code, reply)
            code, reply = smtp.docmd("DATA")
        except OSError as exc:  # the content was not sent yet
            raise TransientSendError(f"SMTP conversation failed before the message was sent: {exc}") from exc
        if code != 354:
            raise refusal(code, reply)
        try:
            smtp.send(data_block(raw))
            code, reply = smtp.getreply()
        except OSError as exc:
            raise UnknownOutcomeError(f"SMTP server did not confirm the message: {exc}") from exc
        if code != 250:
            raise refusal(code, reply)

    def _resolved_login(self) -> Login | None:
        with self._once:  # the threads' first sends wait for the one reading the secret
            if not self._login_read:
                try:
                    self._login = resolve_login(self._server.credentials)
                except SmtpSecretError as exc:
                    raise TransientSendError(str(exc)) from exc
                self._login_read = True
            return self._login

    def _context(self) -> ssl.SSLContext:
        """The system's CAs plus ca_file (create_default_context(cafile=...) would trust ca_file alone)."""
        with self._once:
            if self._tls_context is None:
                try:
                    context = ssl.create_default_context()
                    if self._server.ca_file is not None:
                        context.load_verify_locations(cafile=self._server.ca_file)
                except OSError as exc:  # ca_file missing or not PEM (ssl.SSLError is an OSError)
                    raise TransientSendError(f"SMTP CA file {self._server.ca_file} not usable: {exc}") from exc
                self._tls_context = context
            return self._tls_context
