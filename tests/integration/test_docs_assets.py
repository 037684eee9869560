"""/docs and /graphql's GraphiQL page load every file from the app's /assets, under a Content-Security-Policy
that names no other origin; the vendored files are the ones app/static/SHA256SUMS lists.

The browser half (the pages working under that policy with no network) is
tests/http/browser/test_docs_pages.py.
"""

import hashlib
import json
from base64 import b64encode
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.docs import STATIC_DIR
from app.main import create_app
from scripts.local.provision import LocalResources

# Lambda's synchronous response limit; Mangum returns a text asset as a JSON string.
LAMBDA_RESPONSE_BYTES = 6_291_456
CONTENT_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png", ".svg": "image/svg+xml"}


class _Page(HTMLParser):
    """The URLs a page loads (scripts, stylesheets, icons) and its inline scripts and styles."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline_scripts: list[str] = []
        self.styles = 0
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "script" and named.get("src"):
            self.urls.append(str(named["src"]))
        elif tag == "script":
            self._in_inline_script = True
        elif tag == "link" and named.get("href"):
            self.urls.append(str(named["href"]))
        self.styles += tag == "style" or "style" in named

    def handle_endtag(self, tag: str) -> None:
        self._in_inline_script = self._in_inline_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_inline_script:
            self.inline_scripts.append(data)


def _parsed(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def _directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (d.split() for d in policy.split(";"))}


@pytest.fixture
def anonymous(stack: LocalResources) -> TestClient:
    return TestClient(create_app(), raise_server_exceptions=False)


PAGES = {"/docs": {}, "/graphql": {"accept": "text/html"}}


@pytest.mark.parametrize("path", PAGES)
def test_each_page_loads_its_files_from_the_app_only(anonymous: TestClient, path: str) -> None:
    # Given the page, as a browser asks for it without a key
    response = anonymous.get(path, headers=PAGES[path])
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    # When its scripts, stylesheets and icon are fetched
    urls = _parsed(response.text).urls
    assert len(urls) >= 3
    for url in urls:
        asset = anonymous.get(url)
        # Then each is a file under /assets, served with its type and not sniffed
        assert url.startswith("/assets/"), url
        assert asset.status_code == 200, url
        expected = CONTENT_TYPES[url[url.rindex(".") :]]
        assert asset.headers["content-type"].split(";")[0] == expected, url
        assert asset.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", PAGES)
def test_each_page_has_a_policy_of_this_origin_only(anonymous: TestClient, path: str) -> None:
    # Given the page
    response = anonymous.get(path, headers=PAGES[path])
    page = _parsed(response.text)
    # When its Content-Security-Policy is read
    policy = _directives(response.headers["content-security-policy"])
    # Then everything defaults to this origin, with no other origin, scheme or 'unsafe-…' anywhere
    assert policy["default-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    sources = [s for values in policy.values() for s in values]
    assert not [s for s in sources if "unsafe" in s or "//" in s or s in ("*", "http:", "https:", "blob:")]
    # And only the vendored stylesheets' embedded images and fonts add data:
    assert {name for name, values in policy.items() if "data:" in values} == {"img-src", "font-src"}
    # And the only inline scripts are the page's own, allowed by their hash; no inline style at all
    hashes = [f"'sha256-{b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in page.inline_scripts]
    assert policy["script-src"] == ["'self'", *hashes]
    assert page.styles == 0


def test_graphiql_has_no_inline_script(anonymous: TestClient) -> None:
    # Given the GraphiQL page
    response = anonymous.get("/graphql", headers=PAGES["/graphql"])
    # Then its scripts are all files, and its policy allows this origin's scripts only
    assert _parsed(response.text).inline_scripts == []
    assert _directives(response.headers["content-security-policy"])["script-src"] == ["'self'"]


def test_the_api_answers_json_as_before(anonymous: TestClient) -> None:
    # Given the OpenAPI document and a GraphQL request without a key
    document = anonymous.get("/openapi.json")
    refused = anonymous.post("/graphql", json={"query": "{ __typename }"})
    # Then both are JSON, and ReDoc (which loads from a CDN) is gone
    assert document.status_code == 200 and document.json()["info"]["title"] == "CSV campaign sender"
    assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
    assert anonymous.get("/redoc").status_code == 404


def test_the_assets_do_not_reach_outside_their_directory(anonymous: TestClient) -> None:
    # Given a path that climbs out of app/static
    response = anonymous.get("/assets/../main.py")
    # Then nothing is served
    assert response.status_code == 404


def test_the_vendored_files_are_those_listed_with_their_checksums() -> None:
    # Given SHA256SUMS and the files beside it
    listed: dict[str, str] = {}
    for line in (STATIC_DIR / "SHA256SUMS").read_text().splitlines():
        checksum, name = line.split("  ", 1)
        listed[name] = checksum
    on_disk = {
        p.relative_to(STATIC_DIR).as_posix(): p
        for p in STATIC_DIR.rglob("*")
        if p.is_file() and p.parent != STATIC_DIR and p.parent.name != "graphiql"
    }
    # Then the same files are listed and on disk, each with its checksum, each with a licence beside it
    assert set(listed) == set(on_disk)
    assert {name: hashlib.sha256(on_disk[name].read_bytes()).hexdigest() for name in on_disk} == listed
    assert all((p.parent / "LICENSE").is_file() for p in on_disk.values())


@pytest.mark.parametrize("path", sorted(p for p in STATIC_DIR.rglob("*") if p.suffix in (".js", ".css")))
def test_each_text_asset_fits_in_a_lambda_response(path: Path) -> None:
    # Given the file as Mangum returns it: a JSON string in the response
    as_json = json.dumps(path.read_text(encoding="utf-8"))
    # Then it is under Lambda's limit for a synchronous response
    assert len(as_json) < LAMBDA_RESPONSE_BYTES
