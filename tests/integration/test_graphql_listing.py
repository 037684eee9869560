"""listEmailStatus and batch over GraphQL: filters, ordering, cursors, errors, and never a Scan."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from campaign.aws.send_rows import SendRows
from campaign.domain.models import SendRow
from campaign.domain.status import EmailStatus
from campaign.limits import MAX_PAGE_SIZE
from scripts.local.provision import LocalResources
from tests.support.aws_calls import CallLog, client_error, faults, recording
from tests.support.seed import in_listing_order, seed_batch

GraphQL = Callable[..., dict[str, Any]]

LIST = """
query($status: [EmailStatus!], $from: DateTime, $to: DateTime, $batch: String, $first: Int, $after: String) {
  listEmailStatus(status: $status, from: $from, to: $to, batchId: $batch, first: $first, after: $after) {
    items { sendId batchId email status createdAt }
    nextCursor
  }
}"""

STATUS_CYCLE = [EmailStatus.QUEUED, EmailStatus.SENT, EmailStatus.ERROR, EmailStatus.PENDING]
# Five uploads at four instants (two at the same one), 3 to 7 rows each.
UPLOADS = [("a", "10:01", 5), ("b", "10:03", 4), ("c", "10:03", 3), ("d", "10:05", 7), ("e", "10:07", 4)]


def _at(minute: str) -> str:
    return f"2026-11-24T{minute}:00.000000Z"


@pytest.fixture
def seeded(stack: LocalResources, count_changes: Any) -> list[SendRow]:
    """23 rows over five batches, four statuses and four distinct upload times."""
    rows: list[SendRow] = []
    for name, minute, size in UPLOADS:
        statuses = [STATUS_CYCLE[(len(rows) + i) % 4] for i in range(size)]
        rows += seed_batch(stack.table_name, name, _at(minute), statuses)
    count_changes()
    return rows


def _batch(rows: list[SendRow], name: str) -> str:
    return rows[sum(size for _, _, size in UPLOADS[: [u[0] for u in UPLOADS].index(name)])].batch_id


def _ids(result: dict[str, Any]) -> list[str]:
    return [item["sendId"] for item in result["data"]["listEmailStatus"]["items"]]


def _walk(graphql: GraphQL, first: int, **filters: Any) -> Iterator[list[str]]:
    after = None
    while True:
        page = graphql(LIST, first=first, after=after, **filters)["data"]["listEmailStatus"]
        yield [item["sendId"] for item in page["items"]]
        after = page["nextCursor"]
        if after is None:
            return


def _walked(graphql: GraphQL, first: int, **filters: Any) -> list[str]:
    return [send_id for page in _walk(graphql, first, **filters) for send_id in page]


def test_no_filter_lists_every_row_newest_batch_first_then_in_file_order(
    graphql: GraphQL, seeded: list[SendRow]
) -> None:
    # Given 23 rows over five uploads
    # When the listing is walked without a filter, then it holds every row, newest upload first
    assert _walked(graphql, 50) == in_listing_order(seeded)


def test_status_filter_accepts_several_statuses(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given rows in four statuses
    expected = [r for r in seeded if r.status in (EmailStatus.SENT, EmailStatus.ERROR)]
    # When the listing asks for SENT and ERROR, then it holds the rows of either, in listing order
    assert _walked(graphql, 50, status=["SENT", "ERROR"]) == in_listing_order(expected)


@pytest.mark.parametrize("status", list(EmailStatus))
def test_each_status_alone_lists_its_rows(graphql: GraphQL, seeded: list[SendRow], status: EmailStatus) -> None:
    # Given some rows in the status
    expected = [r for r in seeded if r.status is status]
    # When the listing asks for that status alone, then it holds exactly those rows
    assert expected and _walked(graphql, 50, status=[status.value]) == in_listing_order(expected)


def test_date_range_bounds_are_inclusive(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given uploads at 10:01, 10:03 (two), 10:05 and 10:07: the range 10:03-10:05 holds three of them
    # When the listing asks for 10:03 to 10:05
    walked = _walked(graphql, 50, **{"from": "2026-11-24T10:03:00Z", "to": "2026-11-24T10:05:00Z"})
    # Then it holds the rows uploaded at both ends of the range
    expected = [r for r in seeded if _at("10:03") <= r.created_at <= _at("10:05")]
    assert walked == in_listing_order(expected)


def test_a_single_instant_range_returns_the_rows_of_that_instant(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given two uploads at 10:03
    moment = "2026-11-24T10:03:00Z"
    # When the listing asks for a range from 10:03 to 10:03
    walked = _walked(graphql, 50, **{"from": moment, "to": moment})
    # Then it holds the rows of both uploads
    assert walked == in_listing_order([r for r in seeded if r.created_at == _at("10:03")])


def test_datetimes_with_an_offset_are_compared_in_utc(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given uploads stamped in UTC
    # When the listing asks for rows from 11:05 at UTC+1
    walked = _walked(graphql, 50, **{"from": "2026-11-24T11:05:00+01:00"})
    # Then it holds the rows from 10:05 UTC
    assert walked == in_listing_order([r for r in seeded if r.created_at >= _at("10:05")])


def test_batch_and_status_filters_combine(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given a batch with QUEUED rows among others
    batch = _batch(seeded, "d")
    expected = [r for r in seeded if r.batch_id == batch and r.status is EmailStatus.QUEUED]
    # When the listing asks for that batch and QUEUED, then it holds only rows that match both
    assert expected and _walked(graphql, 50, batch=batch, status=["QUEUED"]) == in_listing_order(expected)


def test_all_filters_combine(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given a batch uploaded inside a date range, with rows in four statuses
    batch = _batch(seeded, "d")
    filters = {
        "batch": batch,
        "status": ["SENT", "PENDING"],
        "from": "2026-11-24T10:02:00Z",
        "to": "2026-11-24T10:08:00Z",
    }
    expected = [r for r in seeded if r.batch_id == batch and r.status in (EmailStatus.SENT, EmailStatus.PENDING)]
    # When the listing asks for that batch, two statuses and the range, then it holds the rows matching all
    assert expected and _walked(graphql, 50, **filters) == in_listing_order(expected)


def test_a_batch_outside_the_date_range_lists_nothing(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given batch "a", uploaded at 10:01
    # When the listing asks for that batch from 10:02, then it is empty
    assert _walked(graphql, 50, batch=_batch(seeded, "a"), **{"from": "2026-11-24T10:02:00Z"}) == []


@pytest.mark.parametrize("first", [1, 4, 7, 22, 23])
def test_cursor_walk_returns_every_row_once_in_order(graphql: GraphQL, seeded: list[SendRow], first: int) -> None:
    # Given 23 rows
    # When the listing is walked page by page with a page size from 1 to 23
    pages = list(_walk(graphql, first))
    # Then the pages together hold every row once, in order, none longer than asked
    assert [send_id for page in pages for send_id in page] == in_listing_order(seeded)
    assert all(len(page) <= first for page in pages)


def test_cursor_walk_with_filters_returns_every_matching_row_once(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given a batch with QUEUED and SENT rows among others
    batch = _batch(seeded, "d")
    expected = [r for r in seeded if r.batch_id == batch and r.status in (EmailStatus.QUEUED, EmailStatus.SENT)]
    # When the filtered listing is walked two rows a page, then it holds every matching row once, in order
    assert _walked(graphql, 2, batch=batch, status=["QUEUED", "SENT"]) == in_listing_order(expected)


def test_last_page_has_no_cursor(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given 23 rows
    # When the listing is walked until a page comes without a cursor
    pages = list(_walk(graphql, 50))
    # Then that page was the last: the walk has every row
    assert sum(len(page) for page in pages) == len(seeded)


def test_a_cursor_issued_for_other_filters_is_refused(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given a cursor from a walk of SENT rows
    cursor = graphql(LIST, first=1, status=["SENT"])["data"]["listEmailStatus"]["nextCursor"]
    # When it is presented with another status filter
    result = graphql(LIST, first=1, status=["ERROR"], after=cursor)
    # Then the request is refused with a message that says why
    assert result["data"] is None
    assert "other filters" in result["errors"][0]["message"]


def test_rows_changing_status_between_pages_are_neither_repeated_nor_dropped(
    graphql: GraphQL, seeded: list[SendRow], stack: LocalResources
) -> None:
    # Given the first page of an unfiltered walk
    first_page = graphql(LIST, first=5)["data"]["listEmailStatus"]
    # When every QUEUED row of a later page moves to SENT (another index partition)
    later = set(in_listing_order(seeded)[10:])
    rows = SendRows(stack.table_name)
    for row in seeded:
        if row.send_id in later and row.status is EmailStatus.QUEUED:
            claim = rows.claim(row.send_id, "2026-11-24T12:00:00.000000Z")
            rows.finish(claim.row, "2026-11-24T12:00:01.000000Z", EmailStatus.SENT)  # type: ignore[union-attr]
    # Then the rest of the walk still yields every row exactly once
    rest = [i for page in _walk_from(graphql, first_page["nextCursor"]) for i in page]
    assert [i["sendId"] for i in first_page["items"]] + rest == in_listing_order(seeded)


def _walk_from(graphql: GraphQL, after: str) -> Iterator[list[str]]:
    while after is not None:
        page = graphql(LIST, first=5, after=after)["data"]["listEmailStatus"]
        yield [item["sendId"] for item in page["items"]]
        after = page["nextCursor"]


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"from": "2026-11-24T11:00:00Z", "to": "2026-11-24T10:00:00Z"}, "'from' is after 'to'"),
        ({"after": "not-a-cursor"}, "cursor"),
        ({"after": "eyJ2IjoyfQ"}, "cursor"),
        ({"first": MAX_PAGE_SIZE + 1}, f"between 1 and {MAX_PAGE_SIZE}"),
        ({"first": 0}, f"between 1 and {MAX_PAGE_SIZE}"),
        ({"from": "0001-01-01T00:00:00+01:00"}, "'from' is out of range"),
        ({"to": "9999-12-31T23:59:59-01:00"}, "'to' is out of range"),
        ({"batch": "a" * 2000}, "batchId must be 32 lowercase hexadecimal characters"),
        ({"batch": "not-a-batch"}, "batchId must be 32 lowercase hexadecimal characters"),
        ({"batch": "A" * 32}, "batchId must be 32 lowercase hexadecimal characters"),
    ],
)
def test_bad_arguments_are_clear_graphql_errors(
    graphql: GraphQL, stack: Any, variables: dict[str, Any], message: str
) -> None:
    # Given an argument out of range, malformed or contradicting another
    # When the listing is asked with it
    result = graphql(LIST, **variables)
    # Then the answer is a GraphQL error that names the problem, and no data
    assert result["data"] is None
    assert message in result["errors"][0]["message"]


def test_malformed_batch_ids_are_refused_before_any_aws_call(graphql: GraphQL, stack: Any) -> None:
    # Given a batch id 2,000 characters long
    # When the listing and the batch query are asked for it
    with recording("dynamodb") as log:
        listed = graphql(LIST, batch="a" * 2000)
        one = graphql(BATCH, id="a" * 2000)
    # Then both are refused, saying why, without reading the table
    assert log.by_operation() == {}
    assert "batchId must be" in listed["errors"][0]["message"]
    assert "batchId must be" in one["errors"][0]["message"]


def test_the_earliest_and_latest_bounds_in_range_are_accepted(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given 23 rows
    # When the listing asks for the widest range a DateTime can hold
    whole = _walked(graphql, 50, **{"from": "0001-01-01T00:00:00Z", "to": "9999-12-31T23:59:59Z"})
    # Then the range is accepted and holds every row
    assert whole == in_listing_order(seeded)


def test_an_empty_status_list_matches_no_row_and_reads_nothing(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given 23 rows
    # When the listing asks for an empty list of statuses
    with recording("dynamodb") as log:
        page = graphql(LIST, status=[])["data"]["listEmailStatus"]
    # Then it is one empty last page, answered without reading the table
    assert page == {"items": [], "nextCursor": None}
    assert log.by_operation() == {}


def _assert_only_key_condition_queries(log: CallLog) -> None:
    operations = log.by_operation()
    assert set(operations) <= {"Query", "GetItem"}, operations
    for params, reply in log.of("Query"):
        assert "FilterExpression" not in params
        assert reply["ScannedCount"] == reply["Count"]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"status": ["SENT"]},
        {"status": ["SENT", "QUEUED", "ERROR"]},
        {"batch": "a"},
        {"batch": "b", "status": ["ERROR"]},
        {"from": "2026-11-24T10:02:00Z", "to": "2026-11-24T10:04:00Z"},
        {"batch": "d", "status": ["PENDING"], "from": "2026-11-24T10:01:00Z"},
    ],
)
def test_every_listing_is_a_key_condition_query_never_a_scan(
    graphql: GraphQL, seeded: list[SendRow], filters: dict[str, Any]
) -> None:
    # Given a combination of filters (a batch named by its upload)
    if "batch" in filters:
        filters = filters | {"batch": _batch(seeded, filters["batch"])}
    # When the listing is walked four rows a page
    with recording("dynamodb") as log:
        list(_walk(graphql, 4, **filters))
    # Then every read was a key-condition Query or a GetItem, none filtering rows it had read
    _assert_only_key_condition_queries(log)


BATCH = """
query($id: String!) { batch(batchId: $id) { batchId total enqueued skipped counts { pending queued sent error } } }
"""


def test_batch_query_counts_rows_by_status(
    graphql: GraphQL, stack: Any, upload: Any, drain: Any, count_changes: Any
) -> None:
    # Given an upload of two good rows and a bad one, counted once the stream consumer has run
    batch_id = upload(b"email,subject,content\na@example.com,s,c\nb@example.com,s,c\nbad,s,c\n").json()["batchId"]
    count_changes()
    before = graphql(BATCH, id=batch_id)["data"]["batch"]
    # When the worker sends them (and the consumer runs again)
    drain()
    with recording("dynamodb") as log:
        after = graphql(BATCH, id=batch_id)["data"]["batch"]
    # Then the counts follow, read from two items
    assert before["counts"] == {"pending": 0, "queued": 2, "sent": 0, "error": 0}
    assert after == {
        "batchId": batch_id,
        "total": 3,
        "enqueued": 2,
        "skipped": 1,
        "counts": {"pending": 0, "queued": 0, "sent": 2, "error": 0},
    }
    assert log.by_operation() == {"GetItem": 2}


def test_unknown_batch_is_null(graphql: GraphQL, stack: Any) -> None:
    # Given an empty table
    # When a batch that was never uploaded is asked for, then the answer is null
    assert graphql(BATCH, id="0" * 32)["data"]["batch"] is None


def test_query_over_the_token_limit_is_refused(graphql: GraphQL, stack: Any) -> None:
    # Given an introspection query nested 200 levels deep: the schema has no cycles (so depth is bounded
    # by construction; the depth limiter is a guard for later types), but introspection can still be
    # made deep and wide, and the token limit bounds it
    deep = "{ __schema { types { " + "fields { type { ofType { name } } } " * 200 + "} } }"
    # When it is sent
    result = graphql(deep)
    # Then it is refused for its tokens
    assert result["data"] is None
    assert "token" in result["errors"][0]["message"].lower()


def test_too_many_aliases_are_refused(graphql: GraphQL, stack: Any) -> None:
    # Given a query that asks for the listing under 20 aliases
    aliases = " ".join(f"a{i}: listEmailStatus(first: 1) {{ nextCursor }}" for i in range(20))
    # When it is sent
    result = graphql("{ " + aliases + " }")
    # Then it is refused for its aliases
    assert result["data"] is None
    assert "aliases" in result["errors"][0]["message"].lower()


def test_unexpected_failures_are_masked(graphql: GraphQL, stack: Any) -> None:
    # Given DynamoDB failing a Query with a message that names the table
    failure = client_error("InternalServerError", "table csv-campaign-test broke", 500)
    # When the listing is asked for
    with faults("dynamodb", "Query", [failure]):
        result = graphql(LIST, first=5)
    # Then the error says only that the request can be retried, naming nothing of the stack
    message = result["errors"][0]["message"]
    assert message == "internal error; the request can be retried"
    assert "csv-campaign" not in str(result)
