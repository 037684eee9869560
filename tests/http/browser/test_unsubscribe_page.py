"""The unsubscribe page (app/routes/unsubscribe.py) in a real headless browser with JavaScript off.

A recipient who follows a message's link sees a page with one button; the button is a plain HTML form
that POSTs `List-Unsubscribe=One-Click`, so it works in a browser without JavaScript. Opening the page
changes nothing (link scanners follow GETs); only the click suppresses the recipient.

Playwright rather than Selenium: its PyPI wheel carries its own driver, so `pip` alone installs it
offline (Selenium also needs Debian's chromium-driver, kept in step with the browser); it turns
JavaScript off with one context option; every step waits with its own timeout; and it reports a
navigation's HTTP status, which Selenium's WebDriver API does not show. It drives Debian's Chromium
(`executable_path`), never a browser build of its own.
"""

from collections.abc import Callable

import httpx
import pytest
from playwright.sync_api import Page

from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.models import SuppressionReason
from campaign.domain.unsubscribe import unsubscribe_token
from scripts.local.provision import LOCAL_UNSUBSCRIBE_KEY
from scripts.local.stack import LiveStack
from tests.http.helpers import Emulator


@pytest.fixture
def link_for(api: httpx.Client, stack: LiveStack) -> Callable[[str], str]:
    """Uploads a one-row CSV for an address and returns the unsubscribe link its message carries."""

    def _link(address: str) -> str:
        content = f"email,subject,content\n{address},Hello,Body\n".encode()
        response = api.post("/upload", files={"file": ("one.csv", content, "text/csv")})
        assert response.status_code == 201, response.text
        batch_id = batch_id_for(content)
        email_key = address.lower()
        token = unsubscribe_token(LOCAL_UNSUBSCRIBE_KEY.encode(), send_id_for(batch_id, email_key), batch_id, email_key)
        return f"{stack.base_url}/unsubscribe?t={token}"

    return _link


def _tampered(link: str) -> str:
    return link[:-1] + ("A" if link[-1] != "A" else "B")


def test_the_page_names_the_masked_recipient_and_offers_a_button(page: Page, link_for: Callable[[str], str]) -> None:
    # Given the unsubscribe link of a message to page.reader@example.com
    # When a browser with JavaScript off opens it
    answer = page.goto(link_for("page.reader@example.com"))
    # Then the page answers 200, names the recipient masked, never in full, and offers an Unsubscribe button
    assert answer is not None and answer.status == 200
    assert page.get_by_role("heading").inner_text() == "Unsubscribe"
    assert "p***@example.com" in page.inner_text("body")
    assert "page.reader" not in page.content()
    assert page.get_by_role("button", name="Unsubscribe").is_visible()


def test_opening_the_page_suppresses_nobody(page: Page, link_for: Callable[[str], str], suppressions: Emulator) -> None:
    # Given the unsubscribe link of a message to just.looking@example.com
    # When a browser opens it, as a link scanner would
    answer = page.goto(link_for("just.looking@example.com"))
    # Then the page answers 200 and the recipient is not suppressed
    assert answer is not None and answer.status == 200
    assert suppressions.suppression_reason("just.looking@example.com") is None


def test_clicking_the_button_unsubscribes_the_recipient(
    page: Page, link_for: Callable[[str], str], suppressions: Emulator
) -> None:
    # Given the unsubscribe page of a message to a mixed-case address, open in a browser with JavaScript off
    page.goto(link_for("Leaving.Reader@Example.com"))
    # When the Unsubscribe button is clicked
    with page.expect_navigation() as navigation:
        page.get_by_role("button", name="Unsubscribe").click()
    # Then the form's POST answers 200 with a page confirming it for the masked recipient, and the address is suppressed
    # as unsubscribed
    assert navigation.value is not None and navigation.value.status == 200
    assert navigation.value.request.method == "POST"
    assert page.get_by_role("heading").inner_text() == "You are unsubscribed"
    assert "L***@example.com will get no more emails" in page.inner_text("body")
    assert suppressions.suppression_reason("leaving.reader@example.com") == SuppressionReason.UNSUBSCRIBED


def test_a_tampered_link_shows_that_it_does_not_work_and_suppresses_nobody(
    page: Page, link_for: Callable[[str], str], suppressions: Emulator
) -> None:
    # Given the unsubscribe link of a message, one character changed
    # When a browser opens it
    answer = page.goto(_tampered(link_for("tampered.link@example.com")))
    # Then the page answers 400, saying the link does not work, offers no button, and the recipient is not suppressed
    assert answer is not None and answer.status == 400
    assert page.get_by_role("heading").inner_text() == "This link does not work"
    assert page.get_by_role("button").count() == 0
    assert suppressions.suppression_reason("tampered.link@example.com") is None
