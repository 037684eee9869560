"""/docs (Swagger UI) and /graphql (GraphiQL) in a real headless browser that can reach the stack only.

Every request to another origin is aborted and recorded, so a page that still loaded anything from a CDN
would fail here; the pages run under their Content-Security-Policy, and a violation Chromium reports on
the console fails the test too. Swagger UI authorizes with the API key and uploads example_csv/campaign.csv
through "Try it out"; GraphiQL sends the key from its headers pane and lists that batch's sends.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Route, expect

from campaign.domain.ids import batch_id_for
from scripts.local.stack import LiveStack

CAMPAIGN_CSV = Path(__file__).resolve().parents[3] / "example_csv" / "campaign.csv"
# Each step and each expectation: loading a 3.5 MB GraphiQL bundle takes longer than a click.
PAGE_TIMEOUT_MS = 20_000


@dataclass
class Watched:
    page: Page
    blocked: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m]


@pytest.fixture
def watched(browser: Browser, stack: LiveStack) -> Iterator[Watched]:
    """A page with JavaScript on that reaches the stack's origin only."""
    context = browser.new_context()
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    context.set_default_navigation_timeout(PAGE_TIMEOUT_MS)
    watched = Watched(context.new_page())

    def only_the_stack(route: Route) -> None:
        url = route.request.url
        if url == stack.base_url or url.startswith(stack.base_url + "/"):
            route.continue_()
        else:
            watched.blocked.append(url)
            route.abort()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            watched.console_errors.append(message.text)

    context.route("**/*", only_the_stack)
    watched.page.on("console", on_console)
    try:
        yield watched
    finally:
        context.close()


def test_swagger_ui_authorizes_with_the_key_and_uploads_the_example_csv(watched: Watched, stack: LiveStack) -> None:
    # Given the docs page, opened offline but for the stack
    page = watched.page
    answer = page.goto(f"{stack.base_url}/docs")
    assert answer is not None and answer.status == 200
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("CSV campaign sender", timeout=PAGE_TIMEOUT_MS)

    # When the key is entered under Authorize (the x-api-key scheme)
    page.get_by_role("button", name="Authorize").first.click()
    key_scheme = page.locator(".modal-ux-content form").filter(has_text="x-api-key")
    key_scheme.locator("input").fill(stack.api_key)
    key_scheme.get_by_role("button", name="Apply credentials").click()
    expect(key_scheme.get_by_role("button", name="Remove authorization")).to_be_visible(timeout=PAGE_TIMEOUT_MS)
    key_scheme.get_by_role("button", name="Close").click()

    # And the example CSV is uploaded through Try it out on POST /upload
    operation = page.locator(".opblock-post").filter(has=page.locator('[data-path="/upload"]'))
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator('input[type="file"]').set_input_files(CAMPAIGN_CSV)
    operation.get_by_role("button", name="Execute").click()

    # Then the response shown is the batch's summary (200 when another test of the session uploaded it first)
    response = operation.locator(".live-responses-table")
    expect(response.locator("tr.response .response-col_status")).to_have_text(
        re.compile(r"^20[01]$"), timeout=PAGE_TIMEOUT_MS
    )
    body = response.locator("tr.response .highlight-code pre").first
    expect(body).to_contain_text('"enqueued"', timeout=PAGE_TIMEOUT_MS)
    summary = json.loads(body.inner_text())
    assert summary["batchId"] == batch_id_for(CAMPAIGN_CSV.read_bytes())
    assert summary["total"] == summary["enqueued"] + summary["skipped"] + summary["notEnqueued"] > 0
    # And nothing was fetched from elsewhere or refused by the page's policy
    assert watched.blocked == []
    assert watched.csp_violations() == []


LIST_QUERY = (
    "query Sends($batchId: String!) { listEmailStatus(batchId: $batchId, first: 5) { items { email status } } }"
)


def test_graphiql_sends_the_key_from_its_headers_pane_and_lists_the_batch(
    watched: Watched, stack: LiveStack, api: httpx.Client
) -> None:
    # Given the example CSV uploaded, and GraphiQL opened offline but for the stack
    content = CAMPAIGN_CSV.read_bytes()
    batch_id = batch_id_for(content)
    uploaded = api.post("/upload", files={"file": ("campaign.csv", content, "text/csv")})
    assert uploaded.status_code in (200, 201), uploaded.text  # 200: uploaded before in this session
    page = watched.page
    answer = page.goto(f"{stack.base_url}/graphql")
    assert answer is not None and answer.status == 200
    query_editor = page.locator(".graphiql-query-editor .CodeMirror")
    expect(query_editor).to_be_visible(timeout=PAGE_TIMEOUT_MS)

    # When the key goes into the headers pane, the query into the editor, the variables into theirs
    _replace_editor_text(page, ".graphiql-query-editor .CodeMirror", LIST_QUERY)
    page.get_by_role("button", name="Headers").click()
    _replace_editor_text(page, ".graphiql-editor-tool .CodeMirror:visible", json.dumps({"x-api-key": stack.api_key}))
    page.get_by_role("button", name="Variables").click()
    _replace_editor_text(page, ".graphiql-editor-tool .CodeMirror:visible", json.dumps({"batchId": batch_id}))
    page.get_by_role("button", name=re.compile("Execute query")).click()

    # Then the result lists rows of the batch
    result = page.locator(".graphiql-response .CodeMirror")
    expect(result).to_contain_text('"listEmailStatus"', timeout=PAGE_TIMEOUT_MS)
    expect(result).to_contain_text("@example.com", timeout=PAGE_TIMEOUT_MS)
    assert '"errors"' not in result.inner_text()
    # And nothing was fetched from elsewhere or refused by the page's policy
    assert watched.blocked == []
    assert watched.csp_violations() == []


def _replace_editor_text(page: Page, selector: str, text: str) -> None:
    """Select all in a CodeMirror editor and type over it (insert_text, as a paste: no auto-closed brackets)."""
    page.locator(selector).first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)
