"""Every message is built once, by campaign/domain/message.py: headers for one-click unsubscribe and
for matching delivery events, HTML sent with a text part derived from it, the footer on every part."""

import email
from email.message import EmailMessage
from email.policy import default

import pytest

from campaign.domain.ids import SEND_ID_HEADER
from campaign.domain.message import (
    Composition,
    Letterhead,
    build_message,
    is_html,
    text_of_html,
)
from campaign.domain.unsubscribe import parse_token, token_names

KEY = b"test-unsubscribe-key"
LETTERHEAD = Letterhead(Composition("Campaigns <news@example.com>"), "https://api.example.com/unsubscribe", KEY)
SEND_ID = "0123456789abcdef0123456789abcdef"
BATCH_ID = "fedcba9876543210fedcba9876543210"


def _parsed(content: str, *, to: str = "ann@example.com", letterhead: Letterhead = LETTERHEAD) -> EmailMessage:
    raw = letterhead.message_bytes(send_id=SEND_ID, batch_id=BATCH_ID, to=to, subject="Hello Ann", content=content)
    parsed = email.message_from_bytes(raw, policy=default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _text_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None and part.get_content_subtype() == subtype
    return _lf(part.get_content())


def _lf(text: str) -> str:
    """The wire's CRLF line ends, as the content was written."""
    return text.replace("\r\n", "\n")


@pytest.mark.parametrize(
    "content",
    [
        "<!DOCTYPE html><html><body>Hi</body></html>",
        "  <html lang='en'><body>Hi</body></html>",
        "<p>Hi Ann</p>",
        "Hello<br>there",
        "<div class='x'>Hi</div>",
        "<table><tr><td>1</td></tr></table>",
        "<h2>News</h2>",
    ],
)
def test_a_document_or_content_with_a_block_level_tag_is_html(content: str) -> None:
    # When content that is an HTML document or holds a block-level tag is classified, then it is HTML
    assert is_html(content)


@pytest.mark.parametrize(
    "content",
    ["Hi Ann, see you soon", "I <3 you", "if a < b and b > c", "Use <b>bold</b> sparingly", "email me at <ann@x.io>"],
)
def test_text_without_block_level_tags_is_text(content: str) -> None:
    # When text whose angle brackets form no block-level tag is classified, then it is plain text
    assert not is_html(content)


def test_every_message_carries_one_click_unsubscribe_and_the_send_id() -> None:
    # When a message with plain content is built for Ann
    message = _parsed("Hi Ann")
    # Then it carries the addressing headers, one-click unsubscribe (RFC 8058) and the send id for matching delivery
    # events
    assert message["From"] == "Campaigns <news@example.com>"
    assert message["To"] == "ann@example.com"
    assert message["Subject"] == "Hello Ann"
    assert message["Date"] and message["Message-ID"].endswith("@example.com>")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://api.example.com/unsubscribe?t=")
    assert message[SEND_ID_HEADER] == SEND_ID


def test_the_list_unsubscribe_header_carries_its_url_as_written_on_the_wire() -> None:
    # Given a message as it goes on the wire
    raw = LETTERHEAD.message_bytes(send_id=SEND_ID, batch_id=BATCH_ID, to="a@example.com", subject="S", content="C")
    # When its List-Unsubscribe header line is read raw
    (line,) = [line for line in raw.split(b"\r\n") if line.startswith(b"List-Unsubscribe:")]
    # Then it holds the URL in angle brackets, unencoded (no encoded word a client could fail to parse)
    assert line.startswith(b"List-Unsubscribe: <https://api.example.com/unsubscribe?t=") and line.endswith(b">")
    assert b"=?" not in line


def test_the_unsubscribe_link_holds_a_token_for_this_send_and_recipient_only() -> None:
    # Given the unsubscribe link of a message to a mixed-case address
    link = _parsed("Hi", to="Ann@Example.com")["List-Unsubscribe"].strip("<>")
    # When its token is parsed
    parts = parse_token(link.split("?t=", 1)[1])
    # Then the token names this send, does not show the address, and verifies only for this recipient under this key
    assert parts is not None and parts.send_id == SEND_ID
    assert "ann" not in link.lower().split("?t=", 1)[1]
    assert token_names(KEY, parts, BATCH_ID, "ann@example.com")
    assert not token_names(KEY, parts, BATCH_ID, "bob@example.com")
    assert not token_names(b"another key", parts, BATCH_ID, "ann@example.com")


def test_text_content_is_one_text_part_with_the_footer() -> None:
    # When a message with plain-text content is built
    message = _parsed("Hi Ann,\nsee you.")
    # Then it is a single text/plain part: the content first, then the unsubscribe footer
    assert message.get_content_type() == "text/plain"
    body = _lf(message.get_content())
    assert body.startswith("Hi Ann,\nsee you.\n")
    assert "Unsubscribe: https://api.example.com/unsubscribe?t=" in body


def test_html_content_is_multipart_alternative_with_a_derived_text_part() -> None:
    # Given an HTML document with styling, a link, an entity and a script
    html = (
        "<!doctype html><html><head><style>p{color:red}</style></head><body><h1>Spring sale</h1>"
        "<p>15% off, <a href='https://shop.example.com'>this week</a> &amp; next.</p>"
        "<script>track()</script></body></html>"
    )
    # When it is built into a message
    message = _parsed(html)
    # Then the message has an HTML part as written and a text part derived from it: blocks on their own lines, links
    # spelled out, entities decoded, no script or style
    assert message.get_content_type() == "multipart/alternative"
    text = _text_of(message, "plain")
    assert text.startswith("Spring sale\n\n15% off, this week (https://shop.example.com) & next.")
    assert "track()" not in text and "color:red" not in text
    assert _text_of(message, "html").startswith(html[: html.index("</body>")])


def test_the_html_part_gets_the_footer_inside_its_body_with_a_link() -> None:
    # When an HTML document is built into a message
    html = _text_of(_parsed("<html><body><p>Hi</p></body></html>"), "html")
    # Then the footer with an unsubscribe link sits inside the HTML part's body, which still ends the document
    assert html.rstrip().endswith("</body></html>")
    assert '<a href="https://api.example.com/unsubscribe?t=' in html


def test_the_footer_wording_is_a_setting_and_can_be_switched_off() -> None:
    # Given a letterhead with its own footer wording and one with the footer switched off
    worded = Letterhead(Composition("news@example.com", "Leave the list: {url}"), LETTERHEAD[1], KEY)
    silent = Letterhead(Composition("news@example.com", ""), LETTERHEAD[1], KEY)
    # When each builds a plain-text message
    # Then the worded footer carries the URL, the silent one adds nothing to the body, and both keep the header
    assert "Leave the list: https://api.example.com/unsubscribe?t=" in _lf(
        _parsed("Hi", letterhead=worded).get_content()
    )
    assert _lf(_parsed("Hi", letterhead=silent).get_content()) == "Hi\n"
    assert _parsed("Hi", letterhead=silent)["List-Unsubscribe"]  # the header stays: RFC 8058 needs it


def test_an_internationalized_domain_is_addressed_in_punycode() -> None:
    # When a message is addressed to an internationalized domain, then its To header carries the domain in punycode
    assert _parsed("Hi", to="ann@bücher.de")["To"] == "ann@xn--bcher-kva.de"


def test_non_ascii_subject_and_content_survive_the_round_trip() -> None:
    # Given a subject and content outside ASCII, built into a message that is 7-bit on the wire
    raw = LETTERHEAD.message_bytes(
        send_id=SEND_ID, batch_id=BATCH_ID, to="a@example.com", subject="Grüße ✓", content="Ça va? 日本語"
    )
    assert raw.isascii()  # 7-bit on the wire: encoded words and quoted-printable
    # When the message goes over the wire and is parsed back
    message = email.message_from_bytes(raw, policy=default)
    # Then both read as written
    assert message["Subject"] == "Grüße ✓"
    assert isinstance(message, EmailMessage) and _lf(message.get_content()).startswith("Ça va? 日本語")


def test_text_of_html_keeps_one_blank_line_between_blocks() -> None:
    # When HTML with runs of blank lines, blocks and line breaks is turned into text, then blocks are separated by
    # exactly one blank line
    assert text_of_html("<p>One</p>\n\n\n<p>Two</p><div>Three<br>Four</div>") == "One\n\nTwo\n\nThree\nFour\n"


def test_build_message_is_the_one_place_headers_are_set() -> None:
    # Given an outgoing message and a fixed clock
    outgoing = LETTERHEAD.outgoing(send_id=SEND_ID, batch_id=BATCH_ID, to="a@example.com", subject="S", content="C")
    # When the message is built
    fixed = build_message(LETTERHEAD.composition, outgoing, now_rfc2822="Sun, 29 Nov 2026 12:00:00 +0000")
    # Then its Date header is the clock's
    assert fixed["Date"] == "Sun, 29 Nov 2026 12:00:00 +0000"
