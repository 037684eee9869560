"""The browser pages, /docs (Swagger UI) and /graphql's GraphiQL, with their assets served by the app.

The scripts, styles and fonts come from app/static (npm packages at pinned versions, see its README),
under /assets, so the pages work offline and under a Content-Security-Policy that names no other origin.
URLs carry the request's root_path, as FastAPI's own /docs does.
"""

import hashlib
import re
from base64 import b64encode
from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

DOCS_URL = "/docs"
ASSETS_URL = "/assets"
STATIC_DIR = Path(__file__).parent / "static"
SWAGGER_UI = "swagger-ui-dist-5.35.0"
REACT = "react-18.2.0"
REACT_DOM = "react-dom-18.2.0"
GRAPHIQL = "graphiql-3.8.3"
GRAPHIQL_EXPLORER = "graphiql-plugin-explorer-1.0.2"
# Our own files (GraphiQL's page script and styles) change with the code; the vendored directories are
# named after their version, so a browser may keep them for good.
_OWN_DIR = "graphiql"
_VENDORED_CACHE = "public, max-age=31536000, immutable"
_OWN_CACHE = "no-cache"

# This origin only. data: URIs are the images and fonts embedded in the vendored stylesheets.
_POLICY = (
    "default-src 'self'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
)
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def content_security_policy(inline_scripts: tuple[str, ...] = ()) -> str:
    """The pages' policy; the only inline scripts allowed are those named, by their SHA-256."""
    hashes = " ".join(f"'sha256-{b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in inline_scripts)
    return "; ".join((*_POLICY, f"script-src 'self' {hashes}".rstrip()))


class _Assets(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["cache-control"] = _OWN_CACHE if path.startswith(_OWN_DIR + "/") else _VENDORED_CACHE
        response.headers["x-content-type-options"] = "nosniff"
        return response


def install_docs(app: FastAPI) -> None:
    """Serves /assets and /docs. The app must be created with docs_url=None (FastAPI's own page loads
    Swagger UI from a CDN) and redoc_url=None (so does ReDoc, and it is not routed when deployed)."""
    app.mount(ASSETS_URL, _Assets(directory=STATIC_DIR), name="assets")

    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        page = get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or ""),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=_asset(root, SWAGGER_UI, "swagger-ui-bundle.js"),
            swagger_css_url=_asset(root, SWAGGER_UI, "swagger-ui.css"),
            swagger_favicon_url=_asset(root, SWAGGER_UI, "favicon-32x32.png"),
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
        # FastAPI starts Swagger UI from an inline script that names the document's URL: allowed by its hash.
        inline = tuple(_INLINE_SCRIPT.findall(bytes(page.body).decode()))
        page.headers["content-security-policy"] = content_security_policy(inline)
        return page

    app.add_route(DOCS_URL, swagger_ui, include_in_schema=False)
    # FastAPI reads docs_url only while it is constructed; set now, it tells readers (the routes test in
    # tests/infra) where the docs are.
    app.docs_url = DOCS_URL


_GRAPHIQL_PAGE = """<!doctype html>
<html>
  <head>
    <title>{title}</title>
    <link rel="icon" href="{favicon}" />
    <link rel="stylesheet" href="{graphiql_css}" />
    <link rel="stylesheet" href="{explorer_css}" />
    <link rel="stylesheet" href="{page_css}" />
    <script src="{react}"></script>
    <script src="{react_dom}"></script>
  </head>
  <body>
    <div id="graphiql" class="graphiql-container">Loading...</div>
    <script src="{graphiql}"></script>
    <script src="{explorer}"></script>
    <script src="{page_js}"></script>
  </body>
</html>
"""


def graphiql_page(request: Request) -> HTMLResponse:
    """Strawberry's GraphiQL page (strawberry/static/graphiql.html, same packages and versions) with
    every file served from /assets and no inline script or style."""
    root = request.scope.get("root_path", "")
    page = _GRAPHIQL_PAGE.format(
        title=escape("GraphiQL"),
        favicon=_asset(root, _OWN_DIR, "strawberry.svg"),
        graphiql_css=_asset(root, GRAPHIQL, "graphiql.min.css"),
        explorer_css=_asset(root, GRAPHIQL_EXPLORER, "style.css"),
        page_css=_asset(root, _OWN_DIR, "graphiql.css"),
        react=_asset(root, REACT, "react.production.min.js"),
        react_dom=_asset(root, REACT_DOM, "react-dom.production.min.js"),
        graphiql=_asset(root, GRAPHIQL, "graphiql.min.js"),
        explorer=_asset(root, GRAPHIQL_EXPLORER, "index.umd.js"),
        page_js=_asset(root, _OWN_DIR, "graphiql.js"),
    )
    return HTMLResponse(page, headers={"content-security-policy": content_security_policy()})


def _asset(root: str, directory: str, name: str) -> str:
    return f"{root}{ASSETS_URL}/{directory}/{name}"
