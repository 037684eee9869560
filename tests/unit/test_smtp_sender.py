"""SEND_MODE=smtp (campaign/smtp_sender.py): the worker hands the message SES would get to an SMTP
server, the local mailbox, and sorts the server's refusals into retry or give up as it sorts SES's."""

import email.generator
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

import campaign.domain.message
import worker.handler
from campaign.aws.email_gateway import PermanentSendError, TransientSendError
from campaign.config import (
    DEFAULT_SMTP_HOST,
    DEFAULT_SMTP_PORT,
    Provider,
    SmtpServer,
    clear_settings_cache,
    worker_settings,
)
from campaign.domain.message import Composition, Letterhead
from campaign.smtp_sender import SmtpSender
from scripts.local.mailbox import RunningMailbox, serving
from scripts.loopback import free_port

SENDER = "campaigns@example.com"
LETTERHEAD = Letterhead(Composition(SENDER), "http://127.0.0.1:8000/unsubscribe", b"test-unsubscribe-key")
SEND = {"send_id": "0123456789abcdef0123456789abcdef", "batch_id": "fedcba9876543210fedcba9876543210"}


@pytest.fixture
def mailbox() -> Iterator[RunningMailbox]:
    with serving(port=0, smtp_port=free_port()) as running:
        yield running


SenderTo = Callable[[int], SmtpSender]


@pytest.fixture
def sender_to() -> Iterator[SenderTo]:
    """Senders for a loopback port; the connections they keep are closed at the end."""
    made: list[SmtpSender] = []

    def _sender(port: int) -> SmtpSender:
        made.append(SmtpSender(LETTERHEAD, SmtpServer("127.0.0.1", port)))
        return made[-1]

    yield _sender
    for sender in made:
        sender.close()


class _Refusing:
    """An SMTP server's handler that refuses at one step with the given reply."""

    def __init__(self, *, rcpt: str | None = None, data: str | None = None) -> None:
        self._rcpt, self._data = rcpt, data

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self._rcpt is not None:
            return self._rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        return self._data or "250 OK"


@contextmanager
def _server(handler: Any) -> Iterator[int]:
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, server_hostname="localhost")
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_the_server_receives_exactly_the_bytes_the_letterhead_builds_for_ses(
    mailbox: RunningMailbox, sender_to: SenderTo, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a fixed Message-ID, date and MIME boundary, and the bytes the letterhead builds for SES from an HTML message
    monkeypatch.setattr(campaign.domain.message, "make_msgid", lambda domain=None: f"<fixed@{domain}>")
    monkeypatch.setattr(campaign.domain.message, "format_datetime", lambda _now: "Sun, 29 Nov 2026 12:00:00 +0000")
    monkeypatch.setattr(email.generator.Generator, "_make_boundary", classmethod(lambda cls, text=None: "=fixed="))
    content = "<p>Hello Ann, ça va?</p>"
    expected = LETTERHEAD.message_bytes(**SEND, to="ann@example.com", subject="Hi", content=content)

    # When the SMTP sender sends the same message to the mailbox
    sender_to(mailbox.smtp_port).send(**SEND, to="ann@example.com", subject="Hi", body=content)

    # Then the mailbox received exactly those bytes
    (received,) = mailbox.mailbox.newest_first()
    assert received.raw == expected


def test_the_envelope_is_the_sender_address_and_the_recipient_in_ascii(
    mailbox: RunningMailbox, sender_to: SenderTo
) -> None:
    # When a message to an internationalized domain is sent over SMTP
    sender_to(mailbox.smtp_port).send(**SEND, to="ann@bücher.de", subject="Hi", body="Hello")

    # Then the envelope's sender is the sender address and its recipient is the address in punycode
    (received,) = mailbox.mailbox.newest_first()
    assert (received.sender, received.recipients) == (SENDER, ("ann@xn--bcher-kva.de",))


def test_the_provider_id_is_the_messages_message_id(mailbox: RunningMailbox, sender_to: SenderTo) -> None:
    # When a message is sent over SMTP
    provider_id = sender_to(mailbox.smtp_port).send(**SEND, to="ann@example.com", subject="Hi", body="Hello")

    # Then the id the sender answers (the provider id) is the Message-ID header the server received
    (received,) = mailbox.mailbox.newest_first()
    assert provider_id == received.header("Message-ID")
    assert provider_id is not None and provider_id.startswith("<") and provider_id.endswith("@example.com>")


def test_a_closed_port_is_a_transient_error(sender_to: SenderTo) -> None:
    # Given a port nothing listens on, when a message is sent to it, then the send fails as transient (retried)
    with pytest.raises(TransientSendError, match="unreachable"):
        sender_to(free_port()).send(**SEND, to="ann@example.com", subject="Hi", body="Hello")


def test_a_5xx_reply_to_the_message_is_a_permanent_error(sender_to: SenderTo) -> None:
    # Given a server that refuses the message's data with a 5xx reply, when a message is sent, then the send fails as
    # permanent
    with _server(_Refusing(data="550 5.7.1 Message rejected")) as port, pytest.raises(PermanentSendError, match="550"):
        sender_to(port).send(**SEND, to="ann@example.com", subject="Hi", body="Hello")


def test_a_4xx_reply_to_the_recipient_is_a_transient_error(sender_to: SenderTo) -> None:
    # Given a server that refuses the recipient with a 4xx reply, when a message is sent, then the send fails as
    # transient
    with _server(_Refusing(rcpt="450 4.2.1 Try again later")) as port, pytest.raises(TransientSendError, match="450"):
        sender_to(port).send(**SEND, to="ann@example.com", subject="Hi", body="Hello")


@pytest.fixture
def smtp_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "SEND_MODE": "smtp",
        "TABLE_NAME": "csv-campaign-test",
        "QUEUE_URL": "http://127.0.0.1:4566/000000000000/csv-campaign-test-sends",
        "SENDER_ADDRESS": SENDER,
        "UNSUBSCRIBE_URL": "http://127.0.0.1:8000/unsubscribe",
        "UNSUBSCRIBE_KEY": "test-unsubscribe-key",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.delenv("SMTP_PORT", raising=False)
    clear_settings_cache()
    yield
    clear_settings_cache()


def test_smtp_mode_delivers_to_the_local_mailbox_port_unless_told_otherwise(smtp_mode: None) -> None:
    # Given smtp mode without SMTP_HOST or SMTP_PORT, when the worker reads its settings, then it delivers to the local
    # mailbox's default host and port
    assert worker_settings().smtp_server == SmtpServer(DEFAULT_SMTP_HOST, DEFAULT_SMTP_PORT)


def test_smtp_mode_makes_the_worker_send_with_the_smtp_sender(smtp_mode: None) -> None:
    # Given smtp mode, when the worker picks its provider, then it is the SMTP sender
    assert isinstance(worker.handler._provider(Provider.SMTP, worker_settings()), SmtpSender)
