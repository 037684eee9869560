"""The live stack's mailbox (`make run` sends with SEND_MODE=smtp unless told otherwise): a CSV uploaded
through the API arrives there as the messages SES would have been given, one per row."""

import re
import secrets
import time
from typing import Any

import httpx
import pytest

from scripts.local.stack import LiveStack

ARRIVE_WITHIN_SECONDS = 30
ONE_CLICK = "List-Unsubscribe=One-Click"


def _header_names(message: dict[str, Any]) -> set[str]:
    return {name.lower() for name, _value in message["headers"]}


def _header(message: dict[str, Any], name: str) -> str:
    (value,) = [value for key, value in message["headers"] if key.lower() == name.lower()]
    return str(value)


@pytest.fixture(scope="module")
def delivered(api: httpx.Client, stack: LiveStack) -> dict[str, dict[str, Any]]:
    """The mailbox's JSON for a two-row upload, by row kind: "html" and "text"."""
    tag = secrets.token_hex(4)
    recipients = {"html": f"mailbox.html.{tag}@example.com", "text": f"mailbox.text.{tag}@example.com"}
    content = (
        "email,subject,content\n"
        f'{recipients["html"]},Hello in HTML,"<p>Hello <b>Ann</b></p>"\n'
        f"{recipients['text']},Hello in text,Hello Bob\n"
    ).encode()
    assert api.post("/upload", files={"file": ("mailbox.csv", content, "text/csv")}).status_code == 201
    deadline = time.monotonic() + ARRIVE_WITHIN_SECONDS
    while True:
        listed = httpx.get(f"{stack.mailbox_url}/api/messages", timeout=10.0).json()
        found = {kind: [m for m in listed if m["recipients"] == [to]] for kind, to in recipients.items()}
        if all(found.values()) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert all(found.values()), f"not in the mailbox within {ARRIVE_WITHIN_SECONDS} s: {found}"
    return {kind: messages[0] for kind, messages in found.items()}


def test_each_row_of_an_upload_arrives_in_the_mailbox_once(
    delivered: dict[str, dict[str, Any]], stack: LiveStack
) -> None:
    # Given a two-row upload, one row HTML and one text, that arrived in the live stack's mailbox
    # When the mailbox lists its messages
    listed = httpx.get(f"{stack.mailbox_url}/api/messages", timeout=10.0).json()
    # Then each row's recipient has exactly one message, with its row's subject
    for message in delivered.values():
        assert [m["id"] for m in listed if m["recipients"] == message["recipients"]] == [message["id"]]
    assert {m["subject"] for m in delivered.values()} == {"Hello in HTML", "Hello in text"}


def test_each_message_carries_the_one_click_unsubscribe_and_send_id_headers(
    delivered: dict[str, dict[str, Any]],
) -> None:
    # Given a two-row upload, one row HTML and one text, that arrived in the live stack's mailbox
    # When each message's headers are read
    # Then each message carries List-Unsubscribe, one-click List-Unsubscribe-Post and a send id of 32 hex characters
    for message in delivered.values():
        assert {"list-unsubscribe", "list-unsubscribe-post", "x-campaign-send-id"} <= _header_names(message)
        assert _header(message, "List-Unsubscribe-Post") == ONE_CLICK
        assert re.fullmatch(r"[0-9a-f]{32}", _header(message, "X-Campaign-Send-Id"))


def test_the_html_row_arrives_as_a_text_part_and_an_html_part(delivered: dict[str, dict[str, Any]]) -> None:
    # Given the message of an upload's HTML row, as it arrived in the live stack's mailbox
    # When its parts are read
    parts = delivered["html"]["parts"]

    # Then it has a text part derived from the HTML first, then the HTML part as written
    assert [part["contentType"] for part in parts] == ["text/plain", "text/html"]
    assert parts[0]["content"].startswith("Hello Ann")
    assert parts[1]["content"].startswith("<p>Hello <b>Ann</b></p>")


def test_the_text_row_arrives_as_text_alone(delivered: dict[str, dict[str, Any]]) -> None:
    # Given the message of an upload's text row, as it arrived in the live stack's mailbox
    # When its parts are read
    (part,) = delivered["text"]["parts"]

    # Then its one part is the text as written
    assert part["contentType"] == "text/plain" and part["content"].startswith("Hello Bob")
