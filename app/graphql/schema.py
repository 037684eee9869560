"""The GraphQL schema: listEmailStatus, batch and the suppression list (a page of it, suppress and
unsuppress), served by DynamoDB key-condition queries and single-item writes only."""

import asyncio
from datetime import datetime
from typing import Annotated, Any

import strawberry
from cross_web import HTTPException as StrawberryHTTPError
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from graphql import GraphQLError
from starlette.exceptions import HTTPException
from strawberry.dataloader import DataLoader
from strawberry.extensions import MaskErrors, MaxAliasesLimiter, MaxTokensLimiter, QueryDepthLimiter
from strawberry.fastapi import BaseContext, GraphQLRouter
from strawberry.types import Info

from app.deps import batch_counts, batches, bodies, send_index, suppressions
from app.docs import graphiql_page
from app.graphql.types import (
    Batch,
    DeliveryOutcome,
    EmailSend,
    EmailStatus,
    EmailStatusPage,
    Suppression,
    SuppressionPage,
)
from app.graphql.types import SuppressionReason as SuppressionReasonType
from campaign.aws.batch_counts import BatchCounts
from campaign.aws.batches import Batches
from campaign.aws.bodies import Bodies
from campaign.aws.send_index import SendIndex
from campaign.aws.suppressions import Suppressions
from campaign.domain.addresses import recipient_key
from campaign.domain.csv_rules import InvalidAddressError, normalize_address
from campaign.domain.cursor import InvalidCursorError
from campaign.domain.ids import BATCH_ID_FORMAT, is_batch_id
from campaign.domain.models import SuppressionReason
from campaign.limits import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from campaign.services.list_sends import ListingError, SendFilter, list_sends


class Context(BaseContext):
    def __init__(
        self,
        index: SendIndex,
        batch_store: Batches,
        counts: BatchCounts,
        body_store: Bodies,
        suppression_list: Suppressions,
    ) -> None:
        super().__init__()
        self.index = index
        self.batches = batch_store
        self.counts = counts
        self.suppressions = suppression_list
        # One loader per request: every `content` a page asks for is read in one BatchGetItem round.
        self.bodies: DataLoader[str, str] = DataLoader(load_fn=lambda keys: _load_bodies(body_store, keys))


async def _load_bodies(body_store: Bodies, keys: list[str]) -> list[str]:
    found = await asyncio.to_thread(body_store.get_many, keys)
    return [found.get(key, "") for key in keys]


def get_context(
    index: Annotated[SendIndex, Depends(send_index)],
    batch_store: Annotated[Batches, Depends(batches)],
    counts: Annotated[BatchCounts, Depends(batch_counts)],
    body_store: Annotated[Bodies, Depends(bodies)],
    suppression_list: Annotated[Suppressions, Depends(suppressions)],
) -> Context:
    return Context(index, batch_store, counts, body_store, suppression_list)


class QueryError(Exception):
    """A client mistake, reported as a GraphQL error with a readable message."""


@strawberry.type
class Query:
    # Resolvers are async and run their blocking DynamoDB reads in a worker thread: a sync resolver
    # would run on the event loop and serialise every request of a local uvicorn process.
    @strawberry.field(
        description="Send statuses, newest first. Filters combine; `nextCursor` pages on. `delivery` lists"
        " the SENT and ERROR rows whose latest delivery outcome is one of those named (`status` may then"
        " name SENT and ERROR only)."
    )
    async def list_email_status(
        self,
        info: Info[Context, None],
        status: list[EmailStatus] | None = None,  # type: ignore[valid-type]
        delivery: list[DeliveryOutcome] | None = None,  # type: ignore[valid-type]
        from_: Annotated[datetime | None, strawberry.argument(name="from")] = None,
        to: datetime | None = None,
        batch_id: str | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> EmailStatusPage:
        where = SendFilter(statuses=status, created_from=from_, created_to=to, batch_id=batch_id, deliveries=delivery)
        try:
            page = await asyncio.to_thread(list_sends, info.context.index, where, first=first, after=after)
        except (ListingError, InvalidCursorError) as exc:
            raise QueryError(str(exc)) from exc
        return EmailStatusPage(items=[EmailSend.from_row(r) for r in page.rows], next_cursor=page.next_cursor)

    @strawberry.field(description="One upload's summary and its live status counts.")
    async def batch(self, info: Info[Context, None], batch_id: str) -> Batch | None:
        if not is_batch_id(batch_id):
            raise QueryError(f"batchId must be {BATCH_ID_FORMAT} (the batchId an upload answered)")
        return await asyncio.to_thread(_batch, info.context, batch_id)

    @strawberry.field(description="The suppression list, newest first; `nextCursor` pages on.")
    async def suppressions(
        self, info: Info[Context, None], first: int = DEFAULT_PAGE_SIZE, after: str | None = None
    ) -> SuppressionPage:
        if not 1 <= first <= MAX_PAGE_SIZE:
            raise QueryError(f"first must be between 1 and {MAX_PAGE_SIZE}")
        try:
            listed, next_cursor = await asyncio.to_thread(info.context.suppressions.page, first, after)
        except InvalidCursorError as exc:
            raise QueryError(str(exc)) from exc
        return SuppressionPage(items=[Suppression.from_record(s) for s in listed], next_cursor=next_cursor)


def _recipient(email: str) -> str:
    """The address as the suppression list keys it, by the CSV's rules; a QueryError naming the problem."""
    try:
        return recipient_key(normalize_address(email))
    except InvalidAddressError as exc:
        raise QueryError(f"email is not a valid address: {exc}") from exc


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Suppress an address: no upload queues it and no worker sends to it until it is unsuppressed. "
        "An address suppressed already keeps its first reason and time (the answer shows them)."
    )
    async def suppress(
        self,
        info: Info[Context, None],
        email: str,
        reason: SuppressionReasonType = SuppressionReason.MANUAL,  # type: ignore[valid-type]
    ) -> Suppression:
        key = _recipient(email)
        suppression, _ = await asyncio.to_thread(info.context.suppressions.add_or_get, key, reason, "api")
        return Suppression.from_record(suppression)

    @strawberry.mutation(description="Take an address off the suppression list; true if it was on it.")
    async def unsuppress(self, info: Info[Context, None], email: str) -> bool:
        removed: bool = await asyncio.to_thread(info.context.suppressions.remove, _recipient(email))
        return removed


def _batch(context: Context, batch_id: str) -> Batch | None:
    """One batch's record and its counts: two items, whatever the batch's size."""
    record = context.batches.get(batch_id)
    if record is None:
        return None
    return Batch.from_record(record, context.counts.get(batch_id))


# Bounds on what one request may ask for (documented in docs/api.md); the page size is capped in
# list_sends. Errors other than our own QueryError are masked, so no exception text or internal name
# leaks; GraphQL's own validation errors (syntax, unknown fields, limits) are not exceptions and pass.
MAX_QUERY_DEPTH = 6
MAX_QUERY_TOKENS = 1000
MAX_QUERY_ALIASES = 15


def _should_mask(error: GraphQLError) -> bool:
    original = error.original_error
    # graphql-core's own errors about the request (a variable's value not in its enum) are written for
    # the client, and wrapped as the original of the error that names the variable.
    return original is not None and not isinstance(original, QueryError | GraphQLError)


schema = strawberry.Schema(
    query=Query,
    mutation=Mutation,
    # Factories, so each request gets fresh extension instances (Strawberry deprecates shared ones).
    extensions=[
        lambda: QueryDepthLimiter(max_depth=MAX_QUERY_DEPTH),
        lambda: MaxTokensLimiter(max_token_count=MAX_QUERY_TOKENS),
        lambda: MaxAliasesLimiter(max_alias_count=MAX_QUERY_ALIASES),
        lambda: MaskErrors(should_mask_error=_should_mask, error_message="internal error; the request can be retried"),
    ],
)


class _JsonErrorsRouter(GraphQLRouter[Context, None]):
    """Strawberry answers a request it cannot read (no query, a body that is not JSON, a wrong method)
    with a text/plain 4xx; re-raised, it gets the API's one JSON error shape (app/errors.py)."""

    async def run(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().run(*args, **kwargs)
        except StrawberryHTTPError as exc:
            raise HTTPException(exc.status_code, exc.reason) from exc

    async def render_graphql_ide(self, request: Request) -> HTMLResponse:
        # Strawberry's own page loads GraphiQL from unpkg; this one serves it from the app (app/docs.py).
        return graphiql_page(request)


def graphql_router() -> GraphQLRouter[Context, None]:
    # No subscriptions: no WebSocket protocol is offered (the auth dependency closes handshakes first).
    return _JsonErrorsRouter(schema, context_getter=get_context, subscription_protocols=())
