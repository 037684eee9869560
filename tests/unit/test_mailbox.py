"""The local mailbox (scripts/local/mailbox.py): what it keeps of each message sent to its SMTP port,
and how its JSON API and its pages show it, in process on loopback ports."""

import smtplib
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

import httpx
import pytest

from scripts.local.mailbox import ONE_CLICK, Mailbox, RunningMailbox, serving
from scripts.loopback import free_port

SENDER = "campaigns@example.com"
RECIPIENT = "ann@example.com"
HOSTILE_HTML = '<p>Hello "Ann" &amp; co</p><script>alert("html part")</script>'


@pytest.fixture
def mailbox() -> Iterator[RunningMailbox]:
    with serving(port=0, smtp_port=free_port()) as running:
        yield running


@pytest.fixture
def pages(mailbox: RunningMailbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mailbox.url, timeout=10.0) as client:
        yield client


class Post(NamedTuple):
    path: str
    content_type: str | None
    body: bytes


class _RecordingServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Recorder)
        self.posts: list[Post] = []


class _Recorder(BaseHTTPRequestHandler):
    server: _RecordingServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.posts.append(Post(self.path, self.headers.get("Content-Type"), body))
        answer = b"<b>unsubscribed</b>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def unsubscribe_endpoint() -> Iterator[_RecordingServer]:
    """A stand-in for POST /unsubscribe on another origin, recording what it is sent."""
    server = _RecordingServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _message(
    *,
    subject: str = "Hello Ann",
    text: str = "Hi Ann",
    html: str | None = None,
    unsubscribe_url: str | None = None,
    one_click: bool = True,
) -> EmailMessage:
    message = EmailMessage(policy=SMTP)
    message["From"] = SENDER
    message["To"] = RECIPIENT
    message["Subject"] = subject
    if unsubscribe_url is not None:
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        if one_click:
            message["List-Unsubscribe-Post"] = ONE_CLICK
    message.set_content(text)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return message


def _send(running: RunningMailbox, message: EmailMessage | bytes) -> bytes:
    raw = message if isinstance(message, bytes) else message.as_bytes()
    with smtplib.SMTP(running.smtp_host, running.smtp_port, local_hostname="localhost", timeout=10) as smtp:
        smtp.sendmail(SENDER, [RECIPIENT], raw)
    return raw


class _Iframes(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.iframes: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "iframe":
            self.iframes.append(dict(attrs))


def _iframes(page: str) -> list[dict[str, str | None]]:
    parser = _Iframes()
    parser.feed(page)
    return parser.iframes


def test_a_message_sent_over_smtp_is_listed_with_its_envelope_headers_and_parts(
    mailbox: RunningMailbox, pages: httpx.Client
) -> None:
    # Given a message with a text and an HTML part and a one-click List-Unsubscribe, sent to the mailbox's SMTP port
    _send(mailbox, _message(html="<p>Hi <b>Ann</b></p>", unsubscribe_url="http://127.0.0.1:9/unsubscribe?t=x"))

    # When the JSON API lists the messages
    (listed,) = pages.get("/api/messages").json()

    # Then the message is listed with its envelope, its headers and each part's type and content, with an id and the
    # time it arrived
    assert (listed["sender"], listed["recipients"], listed["subject"]) == (SENDER, [RECIPIENT], "Hello Ann")
    assert ["List-Unsubscribe", "<http://127.0.0.1:9/unsubscribe?t=x>"] in listed["headers"]
    assert ["List-Unsubscribe-Post", ONE_CLICK] in listed["headers"]
    assert [(part["contentType"], part["content"].strip()) for part in listed["parts"]] == [
        ("text/plain", "Hi Ann"),
        ("text/html", "<p>Hi <b>Ann</b></p>"),
    ]
    assert listed["id"] and listed["receivedAt"]


def test_messages_are_listed_newest_first(mailbox: RunningMailbox, pages: httpx.Client) -> None:
    # Given three messages sent one after the other
    for subject in ("first", "second", "third"):
        _send(mailbox, _message(subject=subject))

    # When the JSON API lists them, then the newest comes first
    assert [m["subject"] for m in pages.get("/api/messages").json()] == ["third", "second", "first"]


def test_the_raw_endpoint_answers_the_bytes_as_received(mailbox: RunningMailbox, pages: httpx.Client) -> None:
    # Given a message with a line that SMTP must dot-stuff, received by the mailbox
    raw = _send(mailbox, _message(text="A line\n.starting with a dot\n"))
    (listed,) = pages.get("/api/messages").json()

    # When its raw form is asked for
    answer = pages.get(f"/api/messages/{listed['id']}/raw")

    # Then the answer is the message as received, byte for byte, as message/rfc822
    assert answer.headers["content-type"] == "message/rfc822"
    assert answer.content == raw


def test_deleting_the_messages_empties_the_mailbox(mailbox: RunningMailbox, pages: httpx.Client) -> None:
    # Given a message in the mailbox
    _send(mailbox, _message())

    # When the messages are deleted, then the answer is 204 and the listing is empty
    assert pages.delete("/api/messages").status_code == 204
    assert pages.get("/api/messages").json() == []


def test_the_mailbox_keeps_only_the_newest_messages_up_to_its_limit() -> None:
    # Given a mailbox that keeps three messages
    kept = Mailbox(limit=3)
    # When five are added
    for number in range(5):
        kept.add(SENDER, [RECIPIENT], _message(subject=f"message {number}").as_bytes())

    # Then it keeps the newest three, newest first
    assert [m.subject for m in kept.newest_first()] == ["message 4", "message 3", "message 2"]


def test_the_pages_escape_what_a_message_holds(mailbox: RunningMailbox, pages: httpx.Client) -> None:
    # Given a message whose subject and text hold markup
    _send(mailbox, _message(subject='<script>alert("subject")</script>', text="<img src=x onerror=alert(1)>"))
    (listed,) = pages.get("/api/messages").json()

    # When the listing and the message's page are shown
    listing, message_page = pages.get("/").text, pages.get(f"/messages/{listed['id']}").text

    # Then neither page carries the markup as tags; the message page shows it escaped, as text
    for page in (listing, message_page):
        assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;subject&quot;)&lt;/script&gt;" in message_page
    assert "&lt;img src=x onerror=alert(1)&gt;" in message_page


def test_the_html_part_is_rendered_in_a_sandboxed_iframe_that_runs_no_script(
    mailbox: RunningMailbox, pages: httpx.Client
) -> None:
    # Given a message whose HTML part holds a script and entities
    _send(mailbox, _message(html=HOSTILE_HTML))
    (listed,) = pages.get("/api/messages").json()

    # When its page is shown
    page = pages.get(f"/messages/{listed['id']}")

    # Then the HTML part is in one iframe with an empty sandbox, given as srcdoc that reads back as written, and the
    # page's Content-Security-Policy forbids scripts
    (iframe,) = _iframes(page.text)
    assert iframe["sandbox"] == ""
    assert (iframe["srcdoc"] or "").strip() == HOSTILE_HTML  # escaped once, so its own entities survive
    assert "<script" not in page.text  # the part's script exists only inside the escaped srcdoc
    assert "script-src 'none'" in page.headers["content-security-policy"]


def test_a_one_click_message_shows_an_unsubscribe_form_that_posts_to_the_mailbox(
    mailbox: RunningMailbox, pages: httpx.Client
) -> None:
    # Given a message with a one-click List-Unsubscribe
    _send(mailbox, _message(unsubscribe_url="http://127.0.0.1:9/unsubscribe?t=x"))
    (listed,) = pages.get("/api/messages").json()

    # When its page is shown
    page = pages.get(f"/messages/{listed['id']}").text

    # Then it holds a form that posts to the mailbox's own unsubscribe route for this message
    assert f'<form method="post" action="/messages/{listed["id"]}/unsubscribe">' in page


def test_the_unsubscribe_button_posts_one_click_to_the_list_unsubscribe_url(
    mailbox: RunningMailbox, pages: httpx.Client, unsubscribe_endpoint: _RecordingServer
) -> None:
    # Given a message whose List-Unsubscribe points at a recording endpoint on another origin
    url = f"http://127.0.0.1:{unsubscribe_endpoint.server_address[1]}/unsubscribe?t=abc.def"
    _send(mailbox, _message(unsubscribe_url=url))
    (listed,) = pages.get("/api/messages").json()

    # When the page's unsubscribe button is pressed
    answer = pages.post(f"/messages/{listed['id']}/unsubscribe")

    # Then the mailbox makes the RFC 8058 one-click POST to that URL, and shows the endpoint's status and its answer,
    # escaped
    assert unsubscribe_endpoint.posts == [
        Post("/unsubscribe?t=abc.def", "application/x-www-form-urlencoded", b"List-Unsubscribe=One-Click")
    ]
    assert "HTTP 200" in answer.text and "&lt;b&gt;unsubscribed&lt;/b&gt;" in answer.text


def test_a_message_without_list_unsubscribe_post_offers_no_one_click(
    mailbox: RunningMailbox, pages: httpx.Client
) -> None:
    # Given a message with a List-Unsubscribe but no List-Unsubscribe-Post
    _send(mailbox, _message(unsubscribe_url="http://127.0.0.1:9/unsubscribe?t=x", one_click=False))
    (listed,) = pages.get("/api/messages").json()

    # When its page is shown, and its unsubscribe route posted to
    # Then the page has no unsubscribe form, and the route is not found
    assert "<form" not in pages.get(f"/messages/{listed['id']}").text
    assert pages.post(f"/messages/{listed['id']}/unsubscribe").status_code == 404


def test_a_list_unsubscribe_sent_as_encoded_words_is_flagged(mailbox: RunningMailbox, pages: httpx.Client) -> None:
    # Given a message whose List-Unsubscribe header was sent as RFC 2047 encoded words
    encoded = b"List-Unsubscribe: =?utf-8?q?=3Chttp=3A//127=2E0=2E0=2E1=3A9/unsubscribe=3Ft=3Dx=3E?=\r\n"
    one_click = f"List-Unsubscribe-Post: {ONE_CLICK}\r\n".encode()
    _send(mailbox, _message().as_bytes().replace(b"Subject:", encoded + one_click + b"Subject:", 1))
    (listed,) = pages.get("/api/messages").json()

    # When its page is shown
    page = pages.get(f"/messages/{listed['id']}").text

    # Then the page flags the header as encoded, which mail clients may not parse
    assert "sent as RFC 2047 encoded words" in page


def test_an_unknown_message_is_not_found(mailbox: RunningMailbox, pages: httpx.Client) -> None:
    # Given an empty mailbox, when an unknown message's page or raw form is asked for, then each is not found
    assert [pages.get(path).status_code for path in ("/messages/99", "/api/messages/99/raw")] == [404, 404]
