"""listEmailStatus and batch over GraphQL: filters, ordering, cursors, errors, and never a Scan."""

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from campaign.aws.send_rows import SendRows
from campaign.domain.ids import send_id_for
from campaign.domain.models import SendRow
from campaign.domain.status import EmailStatus
from campaign.limits import MAX_PAGE_SIZE
from campaign.local.provision import LocalResources
from tests.support.aws_calls import CallLog, recording

GraphQL = Callable[..., dict[str, Any]]

LIST = """
query($status: [EmailStatus!], $from: DateTime, $to: DateTime, $batch: String, $first: Int, $after: String) {
  listEmailStatus(status: $status, from: $from, to: $to, batchId: $batch, first: $first, after: $after) {
    items { sendId batchId email status createdAt }
    nextCursor
  }
}"""

STATUS_CYCLE = [EmailStatus.QUEUED, EmailStatus.SENT, EmailStatus.ERROR, EmailStatus.PENDING]


def _row(batch: str, i: int, minute: int, status: EmailStatus) -> SendRow:
    created = f"2026-11-24T10:{minute:02d}:00.000000Z"
    return SendRow(
        send_id=send_id_for(batch, f"u{i}@example.com"),
        batch_id=batch,
        email=f"u{i}@example.com",
        subject="s",
        content="c",
        status=status,
        created_at=created,
        updated_at=created,
    )


@pytest.fixture
def seeded(stack: LocalResources) -> list[SendRow]:
    """23 rows over two batches, four statuses and ten distinct minutes."""
    rows = [_row("batch-a" if i % 3 else "batch-b", i, i % 10, STATUS_CYCLE[i % 4]) for i in range(23)]
    SendRows(stack.table_name).create(rows)
    return rows


def _newest_first(rows: list[SendRow]) -> list[str]:
    return [r.send_id for r in sorted(rows, key=lambda r: (r.created_at, r.send_id), reverse=True)]


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


def test_no_filter_lists_every_row_newest_first(graphql: GraphQL, seeded: list[SendRow]) -> None:
    assert _ids(graphql(LIST, first=50)) == _newest_first(seeded)


def test_status_filter_accepts_several_statuses(graphql: GraphQL, seeded: list[SendRow]) -> None:
    result = graphql(LIST, status=["SENT", "ERROR"], first=50)
    expected = [r for r in seeded if r.status in (EmailStatus.SENT, EmailStatus.ERROR)]
    assert _ids(result) == _newest_first(expected)


def test_date_range_bounds_are_inclusive(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given rows created at 10:03, 10:04 and 10:05 among others
    result = graphql(LIST, **{"from": "2026-11-24T10:03:00Z", "to": "2026-11-24T10:05:00Z"}, first=50)
    expected = [r for r in seeded if "10:03" <= r.created_at[11:16] <= "10:05"]
    assert _ids(result) == _newest_first(expected)


def test_a_single_instant_range_returns_the_rows_of_that_instant(graphql: GraphQL, seeded: list[SendRow]) -> None:
    moment = "2026-11-24T10:07:00Z"
    result = graphql(LIST, **{"from": moment, "to": moment}, first=50)
    assert _ids(result) == _newest_first([r for r in seeded if r.created_at[11:16] == "10:07"])


def test_datetimes_with_an_offset_are_compared_in_utc(graphql: GraphQL, seeded: list[SendRow]) -> None:
    result = graphql(LIST, **{"from": "2026-11-24T11:09:00+01:00"}, first=50)
    assert _ids(result) == _newest_first([r for r in seeded if r.created_at[11:16] >= "10:09"])


def test_batch_and_status_filters_combine(graphql: GraphQL, seeded: list[SendRow]) -> None:
    result = graphql(LIST, batch="batch-b", status=["QUEUED"], first=50)
    expected = [r for r in seeded if r.batch_id == "batch-b" and r.status is EmailStatus.QUEUED]
    assert expected and _ids(result) == _newest_first(expected)


def test_all_filters_combine(graphql: GraphQL, seeded: list[SendRow]) -> None:
    filters = {
        "batch": "batch-a",
        "status": ["SENT", "PENDING"],
        "from": "2026-11-24T10:02:00Z",
        "to": "2026-11-24T10:08:00Z",
    }
    expected = [
        r
        for r in seeded
        if r.batch_id == "batch-a"
        and r.status in (EmailStatus.SENT, EmailStatus.PENDING)
        and "10:02" <= r.created_at[11:16] <= "10:08"
    ]
    assert _ids(graphql(LIST, first=50, **filters)) == _newest_first(expected)


@pytest.mark.parametrize("first", [1, 4, 7, 22, 23])
def test_cursor_walk_returns_every_row_once_in_order(graphql: GraphQL, seeded: list[SendRow], first: int) -> None:
    pages = list(_walk(graphql, first))
    walked = [send_id for page in pages for send_id in page]
    assert walked == _newest_first(seeded)
    assert all(len(page) == first for page in pages[:-1])


def test_cursor_walk_with_filters_returns_every_matching_row_once(graphql: GraphQL, seeded: list[SendRow]) -> None:
    walked = [i for page in _walk(graphql, 2, batch="batch-a", status=["QUEUED", "SENT"]) for i in page]
    expected = [r for r in seeded if r.batch_id == "batch-a" and r.status in (EmailStatus.QUEUED, EmailStatus.SENT)]
    assert walked == _newest_first(expected)


def test_last_page_has_no_cursor(graphql: GraphQL, seeded: list[SendRow]) -> None:
    assert graphql(LIST, first=23)["data"]["listEmailStatus"]["nextCursor"] is None


def test_rows_changing_status_between_pages_are_neither_repeated_nor_dropped(
    graphql: GraphQL, seeded: list[SendRow], stack: LocalResources
) -> None:
    # Given the first page of an unfiltered walk
    first_page = graphql(LIST, first=5)["data"]["listEmailStatus"]
    # When a row of a later page moves from QUEUED to SENT (another index partition)
    later = _newest_first(seeded)[10:]
    moving = next(r for r in seeded if r.send_id in later and r.status is EmailStatus.QUEUED)
    rows = SendRows(stack.table_name)
    claim = rows.claim(moving.send_id, "2026-11-24T12:00:00.000000Z")
    rows.finish(claim.row, "2026-11-24T12:00:01.000000Z", EmailStatus.SENT)  # type: ignore[union-attr]
    # Then the rest of the walk still yields every row exactly once
    rest = [i for page in _walk_from(graphql, first_page["nextCursor"]) for i in page]
    assert [i["sendId"] for i in first_page["items"]] + rest == _newest_first(seeded)


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
    ],
)
def test_bad_arguments_are_clear_graphql_errors(
    graphql: GraphQL, stack: Any, variables: dict[str, Any], message: str
) -> None:
    result = graphql(LIST, **variables)
    assert result["data"] is None
    assert message in result["errors"][0]["message"]


def _assert_only_key_condition_queries(log: CallLog) -> None:
    operations = log.by_operation()
    assert set(operations) == {"Query"}, operations
    for params, reply in log.of("Query"):
        assert "FilterExpression" not in params
        assert reply["ScannedCount"] == reply["Count"]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"status": ["SENT"]},
        {"status": ["SENT", "QUEUED", "ERROR"]},
        {"batch": "batch-a"},
        {"batch": "batch-b", "status": ["ERROR"]},
        {"from": "2026-11-24T10:02:00Z", "to": "2026-11-24T10:04:00Z"},
        {"batch": "batch-a", "status": ["PENDING"], "from": "2026-11-24T10:01:00Z"},
    ],
)
def test_every_listing_is_a_key_condition_query_never_a_scan(
    graphql: GraphQL, seeded: list[SendRow], filters: dict[str, Any]
) -> None:
    with recording("dynamodb") as log:
        list(_walk(graphql, 4, **filters))
    _assert_only_key_condition_queries(log)


BATCH = """
query($id: String!) { batch(batchId: $id) { batchId total enqueued skipped counts { pending queued sent error } } }
"""


def test_batch_query_counts_rows_by_status(graphql: GraphQL, stack: Any, upload: Any, drain: Any) -> None:
    batch_id = upload(b"email,subject,content\na@example.com,s,c\nb@example.com,s,c\nbad,s,c\n").json()["batchId"]
    before = graphql(BATCH, id=batch_id)["data"]["batch"]
    drain()
    with recording("dynamodb") as log:
        after = graphql(BATCH, id=batch_id)["data"]["batch"]
    assert before["counts"] == {"pending": 0, "queued": 2, "sent": 0, "error": 0}
    assert after == {
        "batchId": batch_id,
        "total": 3,
        "enqueued": 2,
        "skipped": 1,
        "counts": {"pending": 0, "queued": 0, "sent": 2, "error": 0},
    }
    assert "Scan" not in log.by_operation()


def test_unknown_batch_is_null(graphql: GraphQL, stack: Any) -> None:
    assert graphql(BATCH, id="nope")["data"]["batch"] is None


def test_query_over_the_token_limit_is_refused(graphql: GraphQL, stack: Any) -> None:
    # The schema has no cycles (so depth is bounded by construction; the depth limiter is a guard for
    # later types), but introspection can still be made deep and wide: the token limit bounds it.
    deep = "{ __schema { types { " + "fields { type { ofType { name } } } " * 200 + "} } }"
    result = graphql(deep)
    assert result["data"] is None
    assert "token" in result["errors"][0]["message"].lower()


def test_too_many_aliases_are_refused(graphql: GraphQL, stack: Any) -> None:
    aliases = " ".join(f"a{i}: listEmailStatus(first: 1) {{ nextCursor }}" for i in range(20))
    result = graphql("{ " + aliases + " }")
    assert result["data"] is None
    assert "aliases" in result["errors"][0]["message"].lower()


def test_unexpected_failures_are_masked(graphql: GraphQL, stack: Any) -> None:
    from tests.support.aws_calls import client_error, faults

    with faults("dynamodb", "Query", [client_error("InternalServerError", "table csv-campaign-test broke", 500)]):
        result = graphql(LIST, first=5)
    message = result["errors"][0]["message"]
    assert message == "internal error; the request can be retried"
    assert "csv-campaign" not in str(result)
