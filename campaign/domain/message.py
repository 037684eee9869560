"""The one builder of every message the service sends: the same MIME bytes for SES, the local mailbox
and the tests, so what a user sees locally is what a recipient gets.

Headers: From, To, Subject, Date, Message-ID, RFC 8058 one-click unsubscribe (`List-Unsubscribe` with
an https URL and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`), and `X-Campaign-Send-Id`, which
ties a provider's delivery event back to its send. Content that is HTML (`is_html`) goes out as
multipart/alternative with a plain-text part derived from it; other content as text alone. A visible
unsubscribe footer is appended to each part unless it is switched off.
"""

import re
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from html import escape
from html.parser import HTMLParser
from typing import NamedTuple

from campaign.domain.addresses import ascii_address
from campaign.domain.footer import DEFAULT_FOOTER
from campaign.domain.ids import SEND_ID_HEADER
from campaign.domain.unsubscribe import unsubscribe_token, unsubscribe_url

# The HTML rule (docs/api.md): a document that starts with a doctype or <html>, or content that holds a
# block-level tag. A lone "<3" or "a < b" in a text email is not HTML.
_DOCUMENT_START = re.compile(r"\s*<(!doctype\s+html|html[\s>])", re.IGNORECASE)
_BLOCK_TAG = re.compile(
    r"<(p|div|br|table|tr|td|ul|ol|li|h[1-6]|body|section|article|blockquote|pre|hr)(\s[^<>]*)?/?>",
    re.IGNORECASE,
)
_BREAKS_BEFORE = frozenset({"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "hr"})
_SKIPPED = frozenset({"script", "style", "head", "title"})


def is_html(content: str) -> bool:
    return _DOCUMENT_START.match(content) is not None or _BLOCK_TAG.search(content) is not None


class _TextOfHtml(HTMLParser):
    """Text a reader would see: scripts and styles dropped, a line break for each block, a link's
    address after its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0
        self._links: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skipping += 1
        elif tag in _BREAKS_BEFORE:
            self.parts.append("\n")
        if tag == "a":
            self._links.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in ("p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "table", "ul", "ol"):
            self.parts.append("\n")
        elif tag == "a" and self._links:
            href = self._links.pop()
            if href and not href.startswith(("#", "mailto:")):
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def text_of_html(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (line.strip() for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


class Composition(NamedTuple):
    """What every message of a deployment shares: the sender and the footer's wording (a setting;
    `{url}` is replaced by the send's unsubscribe link; empty switches the footer off)."""

    sender: str
    footer: str = DEFAULT_FOOTER


class Outgoing(NamedTuple):
    """One send: to whom, what, and the send's one-click unsubscribe URL."""

    send_id: str
    to: str
    subject: str
    content: str
    unsubscribe_url: str


# RFC 5322's line limit rather than the recommended 78: folding at 78 makes the email package encode
# a long unbreakable token, and List-Unsubscribe must hold its <https://…> URL as written (RFC 8058).
_POLICY = SMTP.clone(max_line_length=998)
# Bodies 7-bit on the wire, whatever relay carries them.
_CTE = "quoted-printable"


def build_message(composition: Composition, outgoing: Outgoing, *, now_rfc2822: str | None = None) -> EmailMessage:
    message = EmailMessage(policy=_POLICY)
    message["From"] = composition.sender
    message["To"] = ascii_address(outgoing.to)
    message["Subject"] = outgoing.subject
    message["Date"] = now_rfc2822 or format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=composition.sender.rpartition("@")[2].strip("> ") or None)
    message["List-Unsubscribe"] = f"<{outgoing.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message[SEND_ID_HEADER] = outgoing.send_id
    footer = composition.footer.replace("{url}", outgoing.unsubscribe_url) if composition.footer else ""
    if is_html(outgoing.content):
        message.set_content(_with_text_footer(text_of_html(outgoing.content), footer), charset="utf-8", cte=_CTE)
        html = _with_html_footer(outgoing.content, footer, outgoing.unsubscribe_url)
        message.add_alternative(html, subtype="html", charset="utf-8", cte=_CTE)
    else:
        message.set_content(_with_text_footer(outgoing.content, footer), charset="utf-8", cte=_CTE)
    return message


def _with_text_footer(text: str, footer: str) -> str:
    if not footer:
        return text
    return f"{text.rstrip()}\n\n-- \n{footer}\n"


def _with_html_footer(html: str, footer: str, url: str) -> str:
    if not footer:
        return html
    link = f'<a href="{escape(url)}">{escape(url)}</a>'
    block = f'<p style="font-size:12px;color:#666">{escape(footer).replace(escape(url), link)}</p>'
    closing = re.search(r"</body\s*>", html, re.IGNORECASE)
    if closing is None:
        return f"{html}\n{block}\n"
    return f"{html[: closing.start()]}{block}\n{html[closing.start() :]}"


class Letterhead(NamedTuple):
    """Everything a sender needs to turn a send into its message: the composition and what signs each
    send's unsubscribe link (the URL of `POST /unsubscribe` and the token key)."""

    composition: Composition
    unsubscribe_base_url: str
    unsubscribe_key: bytes

    def outgoing(self, *, send_id: str, batch_id: str, to: str, subject: str, content: str) -> Outgoing:
        token = unsubscribe_token(self.unsubscribe_key, send_id, batch_id, to.lower())
        return Outgoing(send_id, to, subject, content, unsubscribe_url(self.unsubscribe_base_url, token))

    def message_bytes(self, *, send_id: str, batch_id: str, to: str, subject: str, content: str) -> bytes:
        outgoing = self.outgoing(send_id=send_id, batch_id=batch_id, to=to, subject=subject, content=content)
        return build_message(self.composition, outgoing).as_bytes()
