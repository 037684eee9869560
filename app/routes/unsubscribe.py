"""One-click unsubscribe (RFC 8058): `POST /unsubscribe?t=<token>` with `List-Unsubscribe=One-Click`.

No API key: the token in the link is the credential. A mail client's one-click POST and the button on
the page both suppress the recipient; `GET` only shows that page (link scanners follow GETs, so a GET
must change nothing). Answers are small HTML pages for browsers and JSON for everything else.
"""

from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, Field

from app.deps import SendRowsDep, SuppressionsDep, UnsubscribeKeyDep
from campaign.observability import logger, mask_emails
from campaign.services.unsubscribe import InvalidTokenError, recipient_of, unsubscribe

router = APIRouter(tags=["unsubscribe"])

ONE_CLICK = "One-Click"
_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title><style>body{{font-family:sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1rem;padding:.5rem 1rem}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""
_TOKEN = Annotated[str, Query(alias="t", description="The token from the message's unsubscribe link")]


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status)


def _refusal(request: Request, code: str, message: str) -> Response:
    if _wants_html(request):
        return _page("This link does not work", f"<p>{escape(message)}</p>", status=400)
    return JSONResponse({"error": code, "message": message}, status_code=400)


class UnsubscribedOut(BaseModel):
    unsubscribed: str = Field(description="The recipient, masked")
    newly: bool = Field(description="False when the address was on the suppression list already")


_ERROR_JSON = {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
_INVALID: dict[int | str, dict[str, Any]] = {
    400: {
        "description": "Not a valid link (a page when the client accepts HTML)",
        "content": {"application/json": _ERROR_JSON, "text/html": {}},
    }
}


@router.get("/unsubscribe", response_class=HTMLResponse, responses=_INVALID)
def unsubscribe_page(request: Request, token: _TOKEN, rows: SendRowsDep, key: UnsubscribeKeyDep) -> Response:
    """The page behind a message's unsubscribe link: a button that unsubscribes. Changes nothing."""
    try:
        row = recipient_of(token, rows=rows, key=key)
    except InvalidTokenError as exc:
        return _refusal(request, "invalid_token", str(exc))
    form = (
        f"<p>Stop sending emails to <strong>{escape(mask_emails(row.email))}</strong>?</p>"
        f'<form method="post" action="?t={escape(token)}">'
        f'<input type="hidden" name="List-Unsubscribe" value="{ONE_CLICK}">'
        '<button type="submit">Unsubscribe</button></form>'
    )
    return _page("Unsubscribe", form)


@router.post(
    "/unsubscribe",
    response_model=UnsubscribedOut,
    responses={
        200: {"content": {"text/html": {}}, "description": "Unsubscribed (a page when the client accepts HTML)"},
        400: {
            "description": "Not a valid link, or not List-Unsubscribe=One-Click (a page when the client accepts HTML)",
            "content": {"application/json": _ERROR_JSON, "text/html": {}},
        },
    },
)
def one_click_unsubscribe(
    request: Request,
    token: _TOKEN,
    rows: SendRowsDep,
    suppressions: SuppressionsDep,
    key: UnsubscribeKeyDep,
    one_click: Annotated[str | None, Form(alias="List-Unsubscribe")] = None,
) -> Response:
    """Suppress the link's recipient. Repeating it is harmless; a bad token writes nothing."""
    if one_click != ONE_CLICK:
        return _refusal(request, "not_one_click", "the body must be List-Unsubscribe=One-Click (RFC 8058)")
    try:
        done = unsubscribe(token, rows=rows, suppressions=suppressions, key=key)
    except InvalidTokenError as exc:
        return _refusal(request, "invalid_token", str(exc))
    logger.info("unsubscribed", extra={"newly": done.newly})
    masked = mask_emails(done.email)
    if _wants_html(request):
        return _page("You are unsubscribed", f"<p>{escape(masked)} will get no more emails from us.</p>")
    return JSONResponse({"unsubscribed": masked, "newly": done.newly})
