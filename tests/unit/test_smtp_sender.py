"""SEND_MODE=smtp (campaign/smtp_sender.py): the worker hands the message SES would get to an SMTP
server, the local mailbox, and sorts the server's refusals into retry or give up as it sorts SES's."""

import email.generator
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

import campaign.domain.message
import worker.handler
from campaign.aws.email_gateway import PermanentSendError, TransientSendError
from campaign.config import DEFAULT_SMTP_HOST, DEFAULT_SMTP_PORT, SmtpServer, clear_settings_cache, worker_settings
from campaign.domain.message import Composition, Letterhead
from campaign.local.mailbox import RunningMailbox, serving
from campaign.smtp_sender import SmtpSender
from tests.support.ports import free_port

SENDER = "campaigns@example.com"
LETTERHEAD = Letterhead(Composition(SENDER), "http://127.0.0.1:8000/unsubscribe", b"test-unsubscribe-key")
SEND = {"send_id": "0123456789abcdef0123456789abcdef", "batch_id": "fedcba9876543210fedcba9876543210"}


@pytest.fixture
def mailbox() -> Iterator[RunningMailbox]:
    with serving(port=0, smtp_port=free_port()) as running:
        yield running


def _sender_to(port: int) -> SmtpSender:
    return SmtpSender(LETTERHEAD, SmtpServer("127.0.0.1", port))


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
    mailbox: RunningMailbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(campaign.domain.message, "make_msgid", lambda domain=None: f"<fixed@{domain}>")
    monkeypatch.setattr(campaign.domain.message, "format_datetime", lambda _now: "Sun, 29 Nov 2026 12:00:00 +0000")
    monkeypatch.setattr(email.generator.Generator, "_make_boundary", classmethod(lambda cls, text=None: "=fixed="))
    content = "<p>Hello Ann, ça va?</p>"
    expected = LETTERHEAD.message_bytes(**SEND, to="ann@example.com", subject="Hi", content=content)

    _sender_to(mailbox.smtp_port).send(**SEND, to="ann@example.com", subject="Hi", body=content)

    (received,) = mailbox.mailbox.newest_first()
    assert received.raw == expected


def test_the_envelope_is_the_sender_address_and_the_recipient_in_ascii(mailbox: RunningMailbox) -> None:
    _sender_to(mailbox.smtp_port).send(**SEND, to="ann@bücher.de", subject="Hi", body="Hello")

    (received,) = mailbox.mailbox.newest_first()
    assert (received.sender, received.recipients) == (SENDER, ("ann@xn--bcher-kva.de",))


def test_the_provider_id_is_the_messages_message_id(mailbox: RunningMailbox) -> None:
    provider_id = _sender_to(mailbox.smtp_port).send(**SEND, to="ann@example.com", subject="Hi", body="Hello")

    (received,) = mailbox.mailbox.newest_first()
    assert provider_id == received.header("Message-ID")
    assert provider_id is not None and provider_id.startswith("<") and provider_id.endswith("@example.com>")


def test_a_closed_port_is_a_transient_error() -> None:
    with pytest.raises(TransientSendError, match="unreachable"):
        _sender_to(free_port()).send(**SEND, to="ann@example.com", subject="Hi", body="Hello")


def test_a_5xx_reply_to_the_message_is_a_permanent_error() -> None:
    with _server(_Refusing(data="550 5.7.1 Message rejected")) as port, pytest.raises(PermanentSendError, match="550"):
        _sender_to(port).send(**SEND, to="ann@example.com", subject="Hi", body="Hello")


def test_a_4xx_reply_to_the_recipient_is_a_transient_error() -> None:
    with _server(_Refusing(rcpt="450 4.2.1 Try again later")) as port, pytest.raises(TransientSendError, match="450"):
        _sender_to(port).send(**SEND, to="ann@example.com", subject="Hi", body="Hello")


@pytest.fixture
def smtp_mode(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "SEND_MODE": "smtp",
        "TABLE_NAME": "csv-campaign-test",
        "SENDER_ADDRESS": SENDER,
        "UNSUBSCRIBE_URL": "http://127.0.0.1:8000/unsubscribe",
        "UNSUBSCRIBE_KEY": "test-unsubscribe-key",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SMTP_HOST", raising=False)
    monkeypatch.delenv("SMTP_PORT", raising=False)
    clear_settings_cache()
    worker.handler._sender.cache_clear()
    yield
    clear_settings_cache()
    worker.handler._sender.cache_clear()


def test_smtp_mode_delivers_to_the_local_mailbox_port_unless_told_otherwise(smtp_mode: None) -> None:
    assert worker_settings().smtp_server == SmtpServer(DEFAULT_SMTP_HOST, DEFAULT_SMTP_PORT)


def test_smtp_mode_makes_the_worker_send_with_the_smtp_sender(smtp_mode: None) -> None:
    assert isinstance(worker.handler._sender(), SmtpSender)
