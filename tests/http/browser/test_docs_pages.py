"""/docs (Swagger UI) and /graphql (GraphiQL) in a real headless browser that can reach the stack only.

Every request to another origin is aborted and recorded, so a page that still loaded anything from a CDN
would fail here; the pages run under their Content-Security-Policy, and a violation Chromium reports on
the console fails the test too. Swagger UI authorizes with the API key and uploads example_csv/campaign.csv
through "Try it out"; GraphiQL sends the key from its headers pane and lists that batch's sends. Before the
key is there GraphiQL sends nothing (not even the schema's introspection, which the API would answer 401);
once it is entered, the schema loads into the docs explorer.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Response, Route, expect

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
    # Every answer the page got: (method, URL, status).
    answers: list[tuple[str, str, int]] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        return [m for m in self.console_errors if "Content Security Policy" in m]

    def refused(self) -> list[tuple[str, str, int]]:
        """The requests the API answered 401 (sent without the key, or with a wrong one)."""
        return [a for a in self.answers if a[2] == 401]

    def graphql_posts(self) -> list[tuple[str, str, int]]:
        return [a for a in self.answers if a[0] == "POST" and a[1].split("?")[0].endswith("/graphql")]


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

    def on_response(response: Response) -> None:
        watched.answers.append((response.request.method, response.url, response.status))

    context.route("**/*", only_the_stack)
    watched.page.on("console", on_console)
    watched.page.on("response", on_response)
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
    # And nothing was fetched from elsewhere or refused by the page's policy, and no request went without the key
    assert watched.blocked == []
    assert watched.csp_violations() == []
    assert watched.refused() == []


def test_graphiql_sends_nothing_without_the_key_and_loads_the_schema_once_it_is_entered(
    watched: Watched, stack: LiveStack
) -> None:
    # Given GraphiQL opened offline but for the stack, its headers pane holding the header to fill in
    page = watched.page
    answer = page.goto(f"{stack.base_url}/graphql")
    assert answer is not None and answer.status == 200
    result = page.locator(".graphiql-response .CodeMirror")
    headers = page.locator(".graphiql-editor-tool .CodeMirror:visible")

    # When it has settled, with no key given
    expect(result).to_contain_text("API_KEY_MISSING", timeout=PAGE_TIMEOUT_MS)
    expect(headers).to_contain_text('"X-API-Key": ""', timeout=PAGE_TIMEOUT_MS)

    # Then it sent no query (the schema's introspection included), so nothing was answered 401, and the
    # response pane says where the key goes
    assert watched.graphql_posts() == []
    assert watched.refused() == []
    expect(result).to_contain_text("Headers pane", timeout=PAGE_TIMEOUT_MS)

    # When the key is entered in the headers pane
    with page.expect_response(_introspection, timeout=PAGE_TIMEOUT_MS) as introspection:
        _replace_editor_text(
            page, ".graphiql-editor-tool .CodeMirror:visible", json.dumps({"X-API-Key": stack.api_key})
        )

    # Then the schema is fetched with it, once, and the docs explorer lists the API's queries
    assert introspection.value.status == 200
    assert introspection.value.request.headers["x-api-key"] == stack.api_key
    assert "__schema" in introspection.value.json()["data"]
    page.get_by_role("button", name="Show Documentation Explorer").click()
    explorer = page.locator(".graphiql-doc-explorer")
    explorer.get_by_role("link", name="Query", exact=True).click()
    expect(explorer.locator(".graphiql-doc-explorer-field-name", has_text="listEmailStatus")).to_be_visible(
        timeout=PAGE_TIMEOUT_MS
    )
    # And the message about the missing key is gone from the response pane
    expect(result).not_to_contain_text("API_KEY_MISSING", timeout=PAGE_TIMEOUT_MS)
    assert len(watched.graphql_posts()) == 1
    # And nothing was refused, by the API or by the page's policy, and nothing was fetched from elsewhere
    assert watched.refused() == []
    assert watched.csp_violations() == []
    assert watched.blocked == []


def _introspection(response: Response) -> bool:
    request = response.request
    return request.method == "POST" and "IntrospectionQuery" in (request.post_data or "")


def _replace_editor_text(page: Page, selector: str, text: str) -> None:
    """Select all in a CodeMirror editor and type over it (insert_text, as a paste: no auto-closed brackets)."""
    page.locator(selector).first.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(text)
