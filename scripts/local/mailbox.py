"""The local mailbox: an SMTP server that keeps every message the local stack sends, and a web page and
JSON API to read them (`make run` starts it; `python -m scripts.local.mailbox` runs it alone).

SMTP (aiosmtpd) on 127.0.0.1:1025 accepts any sender and recipient and keeps the message as received,
in memory only: the newest 1,000 (`DEFAULT_LIMIT`), older ones are dropped, so a long `make load`
keeps memory flat. HTTP (the standard library's ThreadingHTTPServer) on 127.0.0.1:8025 serves

    GET    /                          the messages, newest first: recipients, subject, time
    GET    /messages/{id}             one message: each HTML part rendered in a sandboxed iframe (no
                                      scripts, no forms, no same-origin), each text part, the headers
                                      as received, and, for an RFC 8058 message, a one-click button
    POST   /messages/{id}/unsubscribe the one-click unsubscribe: the mailbox itself POSTs
                                      `List-Unsubscribe=One-Click` to the List-Unsubscribe URL (another
                                      origin) and shows the answer, as a mail provider would
    GET    /api/messages              JSON, newest first: [{id, sender, recipients, subject, receivedAt,
                                      headers: [[name, value]], parts: [{contentType, content}]}]: the
                                      envelope's sender and recipients, the subject decoded, the headers
                                      as received (unfolded, encoded words left encoded: what a
                                      receiver parses), each part decoded (a non-text part as base64)
    GET    /api/messages/{id}/raw     the message's bytes as received
    DELETE /api/messages              empties the mailbox

Everything a message holds is escaped where a page shows it. Development tooling only: scripts/local
is never packaged into a Lambda (scripts/package_lambdas.py).
"""

import argparse
import base64
import json
import os
import re
import threading
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from html import escape
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from campaign.config import DEFAULT_SMTP_PORT
from campaign.domain.ids import SEND_ID_HEADER
from scripts.local.ses_simulator import SimulatorRelay

LOOPBACK = "127.0.0.1"
DEFAULT_HTTP_PORT = 8025
DEFAULT_LIMIT = 1_000
ONE_CLICK = "List-Unsubscribe=One-Click"
ONE_CLICK_TIMEOUT_SECONDS = 10.0
# What the one-click answer page shows of the answer's body.
ANSWER_SHOWN_BYTES = 4_096
# The pages hold no script of their own; this keeps any that escaping missed (or a message's) from running.
PAGE_POLICY = "script-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
_MESSAGE_PAGE = re.compile(r"/messages/(\d+)")
_UNSUBSCRIBE = re.compile(r"/messages/(\d+)/unsubscribe")
_RAW = re.compile(r"/api/messages/(\d+)/raw")
_HEADER_BLOCK_END = re.compile(rb"\r?\n\r?\n")
_FOLD = re.compile(r"\r?\n(?=[ \t])")


class Part(NamedTuple):
    content_type: str
    content: str


class StoredMessage(NamedTuple):
    id: str
    sender: str
    recipients: tuple[str, ...]
    received_at: datetime
    raw: bytes
    subject: str
    headers: tuple[tuple[str, str], ...]
    parts: tuple[Part, ...]

    def header(self, name: str) -> str | None:
        """The first such header's value, as received."""
        return next((value for key, value in self.headers if key.lower() == name.lower()), None)

    def decoded_header(self, name: str) -> str | None:
        """The same, its encoded words (RFC 2047) decoded."""
        value = self.header(name)
        if value is None:
            return None
        try:
            return str(make_header(decode_header(value)))
        except (ValueError, LookupError, HeaderParseError):  # malformed: shown as received
            return value

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "receivedAt": self.received_at.isoformat(),
            "headers": [list(pair) for pair in self.headers],
            "parts": [{"contentType": part.content_type, "content": part.content} for part in self.parts],
        }


def _content(part: EmailMessage) -> str:
    payload = part.get_payload(decode=True)
    data = payload if isinstance(payload, bytes) else b""
    if part.get_content_maintype() != "text":
        return base64.b64encode(data).decode("ascii")
    try:
        return data.decode(part.get_content_charset() or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode("utf-8", errors="replace")


def _unfolded(raw_value: str) -> str:
    """A header's value as received (encoded words stay encoded), on one line; bytes that are not
    UTF-8 become U+FFFD."""
    value = _FOLD.sub("", raw_value)
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def parse(message_id: str, sender: str, recipients: list[str], raw: bytes) -> StoredMessage:
    message = BytesParser(policy=default).parsebytes(raw)
    assert isinstance(message, EmailMessage)  # what policy.default parses into
    return StoredMessage(
        id=message_id,
        sender=sender,
        recipients=tuple(recipients),
        received_at=datetime.now(UTC),
        raw=raw,
        subject=str(message.get("Subject", "")),
        headers=tuple((name, _unfolded(value)) for name, value in message.raw_items()),
        parts=tuple(Part(p.get_content_type(), _content(p)) for p in message.walk() if not p.is_multipart()),
    )


class Mailbox:
    """The newest `limit` messages received, shared by the SMTP thread and the HTTP threads."""

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._messages: OrderedDict[str, StoredMessage] = OrderedDict()
        self._received = 0

    @property
    def limit(self) -> int:
        return self._limit

    def add(self, sender: str, recipients: list[str], raw: bytes) -> StoredMessage:
        with self._lock:
            self._received += 1
            message = parse(str(self._received), sender, recipients, raw)
            self._messages[message.id] = message
            while len(self._messages) > self._limit:
                self._messages.popitem(last=False)
        return message

    def newest_first(self) -> list[StoredMessage]:
        with self._lock:
            return list(reversed(self._messages.values()))

    def get(self, message_id: str) -> StoredMessage | None:
        with self._lock:
            return self._messages.get(message_id)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


# Called with each message once it is kept: SES's part locally (scripts/local/ses_simulator.py).
OnReceive = Callable[[StoredMessage], None]


class _Receiver:
    """aiosmtpd's handler: every message is accepted and kept."""

    def __init__(self, mailbox: Mailbox, on_receive: OnReceive | None = None) -> None:
        self._mailbox = mailbox
        self._on_receive = on_receive

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        del server, session
        raw = envelope.original_content or b""
        message = self._mailbox.add(envelope.mail_from or "", envelope.rcpt_tos, raw)
        if self._on_receive is not None:
            self._on_receive(message)
        return "250 OK: kept in the local mailbox"


# ---------------------------------------------------------------------------------------------------
# One-click unsubscribe (RFC 8058)
# ---------------------------------------------------------------------------------------------------


def one_click_url(message: StoredMessage) -> str | None:
    """The URL a provider would POST to: the message's http(s) List-Unsubscribe link, if it asks for
    one-click (List-Unsubscribe-Post: List-Unsubscribe=One-Click). Encoded words are decoded first, as
    Python's email package reads them; `encoded_unsubscribe` tells when a receiver had to."""
    if (message.decoded_header("List-Unsubscribe-Post") or "").strip() != ONE_CLICK:
        return None
    links = re.findall(r"<([^<>]+)>", message.decoded_header("List-Unsubscribe") or "")
    return next((link.strip() for link in links if link.strip().lower().startswith(("https://", "http://"))), None)


def encoded_unsubscribe(message: StoredMessage) -> bool:
    """RFC 2369 and 8058 headers hold URLs in angle brackets, where RFC 2047 allows no encoded word; a
    receiver that reads them as sent finds no link."""
    return any("=?" in (message.header(name) or "") for name in ("List-Unsubscribe", "List-Unsubscribe-Post"))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is shown as the answer, not followed (a provider does not follow it with a POST)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# No proxy from the environment: the unsubscribe URL is on loopback.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


class Answer(NamedTuple):
    status: int | None  # None: no answer at all
    body: str


def post_one_click(url: str) -> Answer:
    request = urllib.request.Request(
        url,
        data=ONE_CLICK.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with _opener.open(request, timeout=ONE_CLICK_TIMEOUT_SECONDS) as response:
            return Answer(response.status, response.read(ANSWER_SHOWN_BYTES).decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(ANSWER_SHOWN_BYTES).decode(errors="replace"))
    except OSError as exc:  # refused, unreachable, timed out
        return Answer(None, str(exc))


# ---------------------------------------------------------------------------------------------------
# Pages
# ---------------------------------------------------------------------------------------------------

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em}"
    "table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.3em .6em;border-bottom:1px solid #ddd}"
    "pre{background:#f6f6f6;padding:1em;white-space:pre-wrap;word-break:break-all}"
    "iframe{width:100%;height:30em;border:1px solid #ccc}"
)


def _page(title: str, body: str, *, refresh_seconds: int | None = None) -> str:
    refresh = f'<meta http-equiv="refresh" content="{refresh_seconds}">' if refresh_seconds else ""
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8">{refresh}'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>{body}</body></html>"
    )


def list_page(mailbox: Mailbox) -> str:
    messages = mailbox.newest_first()
    rows = "".join(
        f"<tr><td>{escape(m.received_at.strftime('%H:%M:%S'))}</td><td>{escape(', '.join(m.recipients))}</td>"
        f'<td><a href="/messages/{escape(m.id)}">{escape(m.subject) or "(no subject)"}</a></td></tr>'
        for m in messages
    )
    body = (
        f"<h1>Local mailbox</h1><p>{len(messages)} message(s); the newest {mailbox.limit:,} are kept, in memory. "
        'JSON: <a href="/api/messages">/api/messages</a>.</p>'
        f"<table><tr><th>Received (UTC)</th><th>To</th><th>Subject</th></tr>{rows}</table>"
    )
    return _page("Local mailbox", body, refresh_seconds=5)


def _part_html(part: Part) -> str:
    kind = escape(part.content_type)
    if part.content_type == "text/html":
        # sandbox="": the HTML runs in an opaque origin with no scripts, forms, popups or navigation.
        return f'<h2>{kind}</h2><iframe sandbox="" srcdoc="{escape(part.content, quote=True)}"></iframe>'
    if part.content_type.startswith("text/"):
        return f"<h2>{kind}</h2><pre>{escape(part.content)}</pre>"
    return f"<h2>{kind}</h2><p>{len(part.content):,} characters of base64 (see the raw message).</p>"


def message_page(message: StoredMessage) -> str:
    header_block = _HEADER_BLOCK_END.split(message.raw, maxsplit=1)[0].decode(errors="replace")
    url = one_click_url(message)
    button = (
        f'<form method="post" action="/messages/{escape(message.id)}/unsubscribe">'
        f"<button>Unsubscribe (one-click)</button> POSTs <code>{ONE_CLICK}</code> to <code>{escape(url)}</code>"
        "</form>"
        if url
        else "<p>No one-click unsubscribe (List-Unsubscribe + List-Unsubscribe-Post) in this message.</p>"
    )
    if encoded_unsubscribe(message):
        button += (
            "<p><strong>Warning:</strong> List-Unsubscribe was sent as RFC 2047 encoded words (see the headers); "
            "a receiver that does not decode them finds no unsubscribe link.</p>"
        )
    body = (
        '<p><a href="/">&larr; all messages</a></p>'
        f"<h1>{escape(message.subject) or '(no subject)'}</h1>"
        f"<p>From {escape(message.sender)} to {escape(', '.join(message.recipients))}, "
        f"received {escape(message.received_at.isoformat())} · "
        f'<a href="/api/messages/{escape(message.id)}/raw">raw</a></p>'
        f"{button}{''.join(_part_html(part) for part in message.parts)}"
        f"<h2>Headers</h2><pre>{escape(header_block)}</pre>"
    )
    return _page(message.subject or "(no subject)", body)


def answer_page(message: StoredMessage, url: str, answer: Answer) -> str:
    outcome = "no answer" if answer.status is None else f"HTTP {answer.status}"
    body = (
        f'<p><a href="/messages/{escape(message.id)}">&larr; the message</a></p>'
        f"<h1>One-click unsubscribe: {escape(outcome)}</h1>"
        f"<p>POST <code>{escape(url)}</code> with <code>{ONE_CLICK}</code> answered:</p>"
        f"<pre>{escape(answer.body)}</pre>"
    )
    return _page("One-click unsubscribe", body)


class _MailboxHttp(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], mailbox: Mailbox) -> None:
        super().__init__(address, _Handler)
        self.mailbox = mailbox


class Response(NamedTuple):
    status: HTTPStatus
    content_type: str
    body: bytes


_HTML = "text/html; charset=utf-8"
NOT_FOUND = Response(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n")


def get(mailbox: Mailbox, path: str) -> Response:
    if path == "/":
        return Response(HTTPStatus.OK, _HTML, list_page(mailbox).encode())
    if path == "/api/messages":
        listing = [message.as_json() for message in mailbox.newest_first()]
        return Response(HTTPStatus.OK, "application/json", json.dumps(listing).encode())
    if (match := _RAW.fullmatch(path)) and (message := mailbox.get(match[1])):
        return Response(HTTPStatus.OK, "message/rfc822", message.raw)
    if (match := _MESSAGE_PAGE.fullmatch(path)) and (message := mailbox.get(match[1])):
        return Response(HTTPStatus.OK, _HTML, message_page(message).encode())
    return NOT_FOUND


def post(mailbox: Mailbox, path: str) -> Response:
    match = _UNSUBSCRIBE.fullmatch(path)
    message = mailbox.get(match[1]) if match else None
    url = one_click_url(message) if message else None
    if message is None or url is None:
        return NOT_FOUND
    return Response(HTTPStatus.OK, _HTML, answer_page(message, url, post_one_click(url)).encode())


def delete(mailbox: Mailbox, path: str) -> Response:
    if path != "/api/messages":
        return NOT_FOUND
    mailbox.clear()
    return Response(HTTPStatus.NO_CONTENT, "text/plain", b"")


class _Handler(BaseHTTPRequestHandler):
    server: _MailboxHttp

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: `make run` prints what matters, and the list page reloads itself every few seconds."""

    def do_GET(self) -> None:
        self._send(get(self.server.mailbox, self.path.split("?", 1)[0]))

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))  # the form's empty body
        self._send(post(self.server.mailbox, self.path.split("?", 1)[0]))

    def do_DELETE(self) -> None:
        self._send(delete(self.server.mailbox, self.path.split("?", 1)[0]))

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Content-Security-Policy", PAGE_POLICY)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        self.wfile.write(response.body)


# ---------------------------------------------------------------------------------------------------
# Running it
# ---------------------------------------------------------------------------------------------------


class RunningMailbox(NamedTuple):
    mailbox: Mailbox
    url: str
    smtp_host: str
    smtp_port: int


@contextmanager
def serving(
    *,
    host: str = LOOPBACK,
    port: int = DEFAULT_HTTP_PORT,
    smtp_port: int = DEFAULT_SMTP_PORT,
    limit: int = DEFAULT_LIMIT,
    on_receive: OnReceive | None = None,
) -> Iterator[RunningMailbox]:
    """Both servers, each in threads of its own, until the block ends. `port` may be 0 (any free one);
    `smtp_port` may not (aiosmtpd's Controller connects to the port it was given to check it is up)."""
    mailbox = Mailbox(limit)
    # server_hostname: the greeting's name, which aiosmtpd would otherwise look up (DNS) per connection.
    smtp = Controller(_Receiver(mailbox, on_receive), hostname=host, port=smtp_port, server_hostname="localhost")
    smtp.start()
    try:
        http = _MailboxHttp((host, port), mailbox)
        thread = threading.Thread(target=http.serve_forever, name="mailbox-http", daemon=True)
        thread.start()
        try:
            yield RunningMailbox(mailbox, f"http://{host}:{http.server_address[1]}", host, smtp_port)
        finally:
            http.shutdown()
            http.server_close()
            thread.join()
    finally:
        smtp.stop()


def _relaying_to(queue_name: str) -> OnReceive:
    relay = SimulatorRelay(queue_name)

    def on_receive(message: StoredMessage) -> None:
        send_id = message.header(SEND_ID_HEADER)
        message_id = (message.header("Message-ID") or message.id).strip("<>")
        relay(sender=message.sender, recipients=message.recipients, send_id=send_id, message_id=message_id)

    return on_receive


def main() -> None:
    parser = argparse.ArgumentParser(description="The local mailbox: SMTP in, a web page and JSON out.")
    parser.add_argument("--port", type=int, default=int(os.environ.get("MAILBOX_PORT", DEFAULT_HTTP_PORT)))
    parser.add_argument("--smtp-port", type=int, default=int(os.environ.get("MAILBOX_SMTP_PORT", DEFAULT_SMTP_PORT)))
    parser.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help="messages kept (the newest)")
    parser.add_argument("--ses-events-queue", help="play SES's simulator: put its events on this queue (by name)")
    args = parser.parse_args()
    on_receive = _relaying_to(args.ses_events_queue) if args.ses_events_queue else None
    with serving(port=args.port, smtp_port=args.smtp_port, limit=args.limit, on_receive=on_receive) as running:
        print(f"mailbox: {running.url} (SMTP on {running.smtp_host}:{running.smtp_port})", flush=True)
        with suppress(KeyboardInterrupt):  # Ctrl-C stops it; SIGTERM (run.py stopping it) ends it outright
            threading.Event().wait()


if __name__ == "__main__":
    main()
