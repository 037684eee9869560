"""Refuse an oversized request body before anything parses or buffers it.

A body whose Content-Length passes the limit is refused before the app runs. Any other body (chunked,
without a Content-Length, or longer than the Content-Length it declares) is counted as the app reads
it: the `receive` every route sees, FastAPI's form parsing included, stops the request as soon as the
bytes received pass the limit; the message that passes it is not handed over, so the app never holds
or spools more than the limit.
"""

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from campaign.limits import MAX_REQUEST_BYTES


class BodyTooLarge(Exception):
    """Raised from `receive` once the body passes the limit (and on every later call)."""


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        length = headers.get(b"content-length", b"").decode("latin-1")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(send)
            return

        received = 0
        cut = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, cut
            if cut:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    cut = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Once the body is cut, the answer is the 413 (or, if the response had started, nothing
            # more): whatever the app makes of the exception is not sent.
            nonlocal response_started
            if cut:
                return
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not cut:
                raise
        if cut and not response_started:
            await self._refuse(send)
        # A cut after the response started leaves it incomplete: the server closes the connection.

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "error": "payload_too_large",
                "message": f"the request body exceeds {self.max_bytes} bytes",
                "limitBytes": self.max_bytes,
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    # The rest of the body is never read: the connection cannot carry another request.
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
