"""The smtp provider against real SMTP servers on loopback (aiosmtpd), as a relay would see it: STARTTLS
with AUTH required, implicit TLS, and plain. The certificate comes from a private CA the test makes;
smtplib is never mocked."""

import email.generator
import threading
from collections.abc import Callable, Iterator
from email.parser import BytesHeaderParser
from email.policy import default
from typing import Any, NamedTuple

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

import campaign.domain.message
import campaign.smtp_sender
from campaign.aws.email_gateway import PermanentSendError, TransientSendError, UnknownOutcomeError
from campaign.config import SmtpCredentials, SmtpServer, SmtpTls
from campaign.domain.ids import SEND_ID_HEADER
from campaign.domain.message import Composition, Letterhead
from campaign.smtp_sender import SmtpSender
from scripts.loopback import free_port
from tests.support.aws_calls import recording
from tests.support.tls import Certificate, issue_loopback_certificate

SENDER = "campaigns@example.com"
LETTERHEAD = Letterhead(Composition(SENDER), "http://127.0.0.1:8000/unsubscribe", b"test-unsubscribe-key")
SEND = {"send_id": "0123456789abcdef0123456789abcdef", "batch_id": "fedcba9876543210fedcba9876543210"}
USERNAME, PASSWORD = "apikey", "relay-password"
LOGIN = SmtpCredentials(USERNAME, PASSWORD, None)
NO_LOGIN = SmtpCredentials(None, None, None)


class Delivery(NamedTuple):
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    # The server side of the connection it came over (one aiosmtpd SMTP instance per connection).
    connection: SMTP

    @property
    def send_id(self) -> str:
        return str(BytesHeaderParser(policy=default).parsebytes(self.raw)[SEND_ID_HEADER])


class Relay:
    """aiosmtpd's handler and authenticator: keeps what arrives, checks the one login, and refuses or
    hangs up when told to. Every call runs on the server's one event loop thread."""

    def __init__(self) -> None:
        self.deliveries: list[Delivery] = []
        self.mail_reply: str | None = None
        self.rcpt_reply: str | None = None
        self.hang_up_after_reply = False
        self.hang_up_instead_of_reply = False
        self.one_message_per_connection = False

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, mail_options: list[str]
    ) -> str:
        if self.mail_reply is not None:
            return self.mail_reply
        if self.one_message_per_connection and any(delivery.connection is server for delivery in self.deliveries):
            assert server.transport is not None
            server.loop.call_soon(server.transport.close)
            return "421 4.7.0 One message per connection, reconnect"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_reply is not None:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        delivery = Delivery(
            envelope.mail_from or "", tuple(envelope.rcpt_tos), envelope.original_content or b"", server
        )
        self.deliveries.append(delivery)
        assert server.transport is not None
        if self.hang_up_instead_of_reply:
            server.transport.close()
        elif self.hang_up_after_reply:
            # Runs once the reply is written and the server waits for the next command.
            server.loop.call_soon(server.transport.close)
        return "250 OK"

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        valid = auth_data == LoginPassword(USERNAME.encode(), PASSWORD.encode())
        return AuthResult(success=valid, handled=False)

    @property
    def connections(self) -> int:
        return len({id(delivery.connection) for delivery in self.deliveries})


class Server(NamedTuple):
    relay: Relay
    port: int


Senders = Callable[..., SmtpSender]


@pytest.fixture
def certificate(tmp_path: Any) -> Certificate:
    return issue_loopback_certificate(tmp_path)


def _serving(relay: Relay, **options: Any) -> Iterator[Server]:
    port = free_port()
    # server_hostname: the greeting's name, which aiosmtpd would otherwise look up (DNS) per connection.
    controller = Controller(relay, hostname="127.0.0.1", port=port, server_hostname="localhost", **options)
    controller.start()
    try:
        yield Server(relay, port)
    finally:
        controller.stop()


@pytest.fixture
def starttls_server(certificate: Certificate) -> Iterator[Server]:
    """A submission port as relays run it: STARTTLS first, then AUTH, then mail."""
    relay = Relay()
    yield from _serving(
        relay,
        tls_context=certificate.server_context(),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=relay.authenticate,
    )


@pytest.fixture
def implicit_tls_server(certificate: Certificate) -> Iterator[Server]:
    yield from _serving(Relay(), ssl_context=certificate.server_context())


@pytest.fixture
def plain_server() -> Iterator[Server]:
    yield from _serving(Relay())


@pytest.fixture
def senders(certificate: Certificate) -> Iterator[Senders]:
    """Makes senders for a port (STARTTLS with the login and the test CA unless told otherwise), and
    closes the test thread's connections at the end."""
    made: list[SmtpSender] = []

    def _sender(
        port: int,
        tls: SmtpTls = SmtpTls.STARTTLS,
        credentials: SmtpCredentials = LOGIN,
        ca_file: str | None = str(certificate.ca_file),
        host: str = "127.0.0.1",
    ) -> SmtpSender:
        made.append(SmtpSender(LETTERHEAD, SmtpServer(host, port, tls, credentials, ca_file)))
        return made[-1]

    yield _sender
    for sender in made:
        sender.close()


def _send(sender: SmtpSender, send_id: str = SEND["send_id"], body: str = "<p>Hello</p>") -> str | None:
    return sender.send(send_id=send_id, batch_id=SEND["batch_id"], to="ann@example.com", subject="Hi", body=body)


def test_a_message_arrives_through_starttls_and_auth_with_the_exact_bytes_the_letterhead_builds(
    starttls_server: Server, senders: Senders, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a relay that requires STARTTLS and a login, and a message whose every byte is fixed
    monkeypatch.setattr(campaign.domain.message, "make_msgid", lambda domain=None: f"<fixed@{domain}>")
    monkeypatch.setattr(campaign.domain.message, "format_datetime", lambda _now: "Sun, 29 Nov 2026 12:00:00 +0000")
    monkeypatch.setattr(email.generator.Generator, "_make_boundary", classmethod(lambda cls, text=None: "=fixed="))
    content = "<p>Hello Ann, ça va?</p>"
    expected = LETTERHEAD.message_bytes(**SEND, to="ann@example.com", subject="Hi", content=content)

    # When it is sent
    _send(senders(starttls_server.port), body=content)

    # Then the relay got exactly those bytes, from the sender to the recipient
    (delivery,) = starttls_server.relay.deliveries
    assert (delivery.raw, delivery.mail_from, delivery.rcpt_tos) == (expected, SENDER, ("ann@example.com",))


def test_lines_that_start_with_a_dot_arrive_as_written(plain_server: Server, senders: Senders) -> None:
    # Given a message with a line that is only a dot (which ends SMTP's DATA unless doubled)
    body = "<p>Hi</p>\n.hidden\n.\n<p>the rest</p>"

    # When it is sent
    _send(senders(plain_server.port, SmtpTls.NONE, NO_LOGIN), body=body)

    # Then the whole message arrived, dots as written
    (delivery,) = plain_server.relay.deliveries
    assert b"\r\n.hidden\r\n.\r\n<p>the rest</p>" in delivery.raw


def test_implicit_tls_delivers(implicit_tls_server: Server, senders: Senders) -> None:
    # Given a relay that speaks TLS from the first byte (port 465)
    sender = senders(implicit_tls_server.port, SmtpTls.IMPLICIT, NO_LOGIN)

    # When a message is sent
    provider_id = _send(sender)

    # Then it arrived
    (delivery,) = implicit_tls_server.relay.deliveries
    assert BytesHeaderParser(policy=default).parsebytes(delivery.raw)["Message-ID"] == provider_id


def test_the_login_is_read_from_its_secret_once_for_two_sends(
    aws: None, starttls_server: Server, senders: Senders
) -> None:
    # Given the login in a Secrets Manager secret, as deployed
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="smtp-login", SecretString=f'{{"username": "{USERNAME}", "password": "{PASSWORD}"}}'
    )["ARN"]
    sender = senders(starttls_server.port, credentials=SmtpCredentials(None, None, secret_arn))

    # When two messages are sent
    with recording("secretsmanager") as calls:
        _send(sender, send_id="1" * 32)
        _send(sender, send_id="2" * 32)

    # Then both arrived, logged in with the secret's login, which was read once
    assert [delivery.send_id for delivery in starttls_server.relay.deliveries] == ["1" * 32, "2" * 32]
    assert calls.count("GetSecretValue") == 1


def test_an_unreadable_secret_is_a_transient_error(aws: None, starttls_server: Server, senders: Senders) -> None:
    # Given a secret ARN that names no secret
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:smtp-login-gone"
    sender = senders(starttls_server.port, credentials=SmtpCredentials(None, None, arn))

    # When a message is sent, then the provider is unusable for now, and nothing was sent
    with pytest.raises(TransientSendError, match="not readable"):
        _send(sender)
    assert starttls_server.relay.deliveries == []


def test_a_wrong_password_is_a_transient_error(starttls_server: Server, senders: Senders) -> None:
    # Given the wrong password for the relay
    sender = senders(starttls_server.port, credentials=SmtpCredentials(USERNAME, "wrong", None))

    # When a message is sent, then the relay's 535 is the provider's problem, not the message's
    with pytest.raises(TransientSendError, match="535"):
        _send(sender)
    assert starttls_server.relay.deliveries == []


def test_a_server_without_starttls_is_refused_when_starttls_is_configured(
    plain_server: Server, senders: Senders
) -> None:
    # Given a server that does not offer STARTTLS (or a man in the middle who stripped the offer)
    sender = senders(plain_server.port, SmtpTls.STARTTLS, NO_LOGIN)

    # When a message is sent, then it is refused rather than sent in plain text
    with pytest.raises(TransientSendError, match="does not offer STARTTLS"):
        _send(sender)
    assert plain_server.relay.deliveries == []


def test_an_untrusted_certificate_is_a_transient_error(starttls_server: Server, senders: Senders) -> None:
    # Given a sender that trusts the system's CAs only, not the relay's private CA
    sender = senders(starttls_server.port, ca_file=None)

    # When a message is sent, then the handshake fails on the certificate and nothing is sent
    with pytest.raises(TransientSendError, match="CERTIFICATE_VERIFY_FAILED"):
        _send(sender)
    assert starttls_server.relay.deliveries == []


def test_a_password_is_never_sent_in_plain_text_to_a_remote_host(senders: Senders) -> None:
    # Given a login and no TLS for a host that is not this machine (TEST-NET-1, never connected to)
    sender = senders(free_port(), SmtpTls.NONE, LOGIN, host="192.0.2.1")

    # When a message is sent, then the sender refuses before connecting
    with pytest.raises(TransientSendError, match="refusing to send the SMTP password in plain text"):
        _send(sender)


def test_a_530_authentication_required_is_a_transient_error(plain_server: Server, senders: Senders) -> None:
    # Given a relay that wants a login the sender was not configured with
    plain_server.relay.mail_reply = "530 5.7.0 Authentication required"

    # When a message is sent, then that is the provider's problem, not the message's
    with pytest.raises(TransientSendError, match="530"):
        _send(senders(plain_server.port, SmtpTls.NONE, NO_LOGIN))


def test_a_550_to_the_recipient_is_a_permanent_error(starttls_server: Server, senders: Senders) -> None:
    # Given a relay that refuses the recipient
    starttls_server.relay.rcpt_reply = "550 5.1.1 No such user"

    # When a message is sent to it, then the message itself is refused
    with pytest.raises(PermanentSendError, match="550"):
        _send(senders(starttls_server.port))


def test_a_connection_lost_after_the_content_was_sent_is_an_unknown_outcome(
    starttls_server: Server, senders: Senders
) -> None:
    # Given a relay that keeps the message but hangs up instead of confirming it
    starttls_server.relay.hang_up_instead_of_reply = True

    # When a message is sent, then its fate is unknown, and it was not sent again
    with pytest.raises(UnknownOutcomeError):
        _send(senders(starttls_server.port))
    assert len(starttls_server.relay.deliveries) == 1


def test_two_sends_on_one_thread_share_one_connection(starttls_server: Server, senders: Senders) -> None:
    # Given a sender
    sender = senders(starttls_server.port)

    # When it sends twice from one thread
    _send(sender, send_id="1" * 32)
    _send(sender, send_id="2" * 32)

    # Then both messages came over one connection (one handshake, one login)
    assert len(starttls_server.relay.deliveries) == 2
    assert starttls_server.relay.connections == 1


def test_a_connection_the_relay_dropped_is_reopened_and_the_message_arrives_once(
    starttls_server: Server, senders: Senders
) -> None:
    # Given a relay that hangs up after each message, and a sender that has sent one
    starttls_server.relay.hang_up_after_reply = True
    sender = senders(starttls_server.port)
    _send(sender, send_id="1" * 32)

    # When it sends the next one on the connection it kept
    _send(sender, send_id="2" * 32)

    # Then that one arrived once, over a new connection
    assert [delivery.send_id for delivery in starttls_server.relay.deliveries] == ["1" * 32, "2" * 32]
    assert starttls_server.relay.connections == 2


def test_a_kept_connection_the_relay_ends_with_421_is_replaced(starttls_server: Server, senders: Senders) -> None:
    # Given a relay that takes one message per connection and answers 421 to the next MAIL FROM
    starttls_server.relay.one_message_per_connection = True
    sender = senders(starttls_server.port)
    _send(sender, send_id="1" * 32)

    # When the sender sends the next one on the connection it kept
    _send(sender, send_id="2" * 32)

    # Then that one arrived once, over a new connection
    assert [delivery.send_id for delivery in starttls_server.relay.deliveries] == ["1" * 32, "2" * 32]
    assert starttls_server.relay.connections == 2


def test_a_connection_idle_too_long_is_not_reused(
    starttls_server: Server, senders: Senders, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given connections that may not idle at all
    monkeypatch.setattr(campaign.smtp_sender, "MAX_IDLE_SECONDS", 0.0)
    sender = senders(starttls_server.port)

    # When two messages are sent one after the other
    _send(sender, send_id="1" * 32)
    _send(sender, send_id="2" * 32)

    # Then each went over a new connection
    assert starttls_server.relay.connections == 2


def test_sixteen_threads_sending_at_once_each_deliver_their_message_once(
    starttls_server: Server, senders: Senders
) -> None:
    # Given one sender shared by sixteen threads, as the worker shares it, each with two messages
    sender = senders(starttls_server.port)
    send_ids = [f"{thread:02d}{message}".ljust(32, "0") for thread in range(16) for message in range(2)]
    start = threading.Barrier(16)
    failures: list[BaseException] = []

    def _thread(ids: list[str]) -> None:
        try:
            start.wait()
            for send_id in ids:
                _send(sender, send_id=send_id)
        except BaseException as exc:
            failures.append(exc)
        finally:
            sender.close()

    # When they all send at once
    threads = [threading.Thread(target=_thread, args=(send_ids[i : i + 2],)) for i in range(0, 32, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then every message arrived once, each thread over its own connection
    assert failures == []
    assert sorted(delivery.send_id for delivery in starttls_server.relay.deliveries) == sorted(send_ids)
    assert starttls_server.relay.connections == 16
