"""listEmailStatus(delivery: ...) over GraphQL: rows by their latest delivery outcome, alone or with
the other filters, paged by key-condition queries on the delivery index, each row once while SES
events raise outcomes during a walk."""

import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from campaign.aws.send_index import SendIndex
from campaign.aws.send_rows import SendRows
from campaign.aws.table_schema import DELIVERY_INDEX, DELIVERY_KEY, delivery_key
from campaign.domain.delivery import DeliveryEvent
from campaign.domain.listing_plan import OUTCOME_FAMILIES, IndexAnswer, IndexQuery
from campaign.domain.models import SendRow
from campaign.domain.status import OUTCOME_RANK, DeliveryOutcome, EmailStatus
from campaign.services.list_sends import SendFilter, list_sends
from scripts.local.provision import LocalResources
from tests.support.aws_calls import recording
from tests.support.seed import in_listing_order, seed_batch

GraphQL = Callable[..., dict[str, Any]]

LIST = """
query($status: [EmailStatus!], $delivery: [DeliveryOutcome!], $from: DateTime, $to: DateTime, $batch: String,
      $first: Int, $after: String) {
  listEmailStatus(status: $status, delivery: $delivery, from: $from, to: $to, batchId: $batch, first: $first,
                  after: $after) {
    items { sendId batchId status delivery { outcome } }
    nextCursor
  }
}"""

S, E, Q = EmailStatus.SENT, EmailStatus.ERROR, EmailStatus.QUEUED
DELAYED, DELIVERED, BOUNCED, REJECTED, COMPLAINED = (
    DeliveryOutcome.DELAYED,
    DeliveryOutcome.DELIVERED,
    DeliveryOutcome.BOUNCED,
    DeliveryOutcome.REJECTED,
    DeliveryOutcome.COMPLAINED,
)
STATUS_CYCLE = [S, S, E, S, Q]
OUTCOME_CYCLE: list[DeliveryOutcome | None] = [None, DELIVERED, BOUNCED, COMPLAINED, DELIVERED, DELAYED, REJECTED]
# Four uploads at three instants (two at the same one), 6 to 11 rows each.
UPLOADS = [("a", "10:01", 9), ("b", "10:03", 6), ("c", "10:03", 8), ("d", "10:05", 11)]


def _at(minute: str) -> str:
    return f"2026-11-24T{minute}:00.000000Z"


def _event(send_id: str, outcome: DeliveryOutcome) -> DeliveryEvent:
    return DeliveryEvent(send_id, outcome, "2026-11-24T12:00:00.000Z", ("x@example.com",))


def _raise(rows: SendRows, row: SendRow, outcome: DeliveryOutcome) -> SendRow:
    """An SES event, through the code the events consumer runs."""
    recorded = rows.record_delivery(_event(row.send_id, outcome)).updated
    assert recorded is not None
    return recorded


@pytest.fixture
def seeded(stack: LocalResources, count_changes: Any) -> list[SendRow]:
    """34 rows over four batches: SENT, ERROR and QUEUED, most of them with an outcome (a complaint
    after a delivery, and a QUEUED row whose event overtook the worker's result)."""
    rows = SendRows(stack.table_name)
    seeded: list[SendRow] = []
    for name, minute, size in UPLOADS:
        start = len(seeded)
        statuses = [STATUS_CYCLE[(start + i) % len(STATUS_CYCLE)] for i in range(size)]
        for i, row in enumerate(seed_batch(stack.table_name, name, _at(minute), statuses)):
            outcome = OUTCOME_CYCLE[(start + i) % len(OUTCOME_CYCLE)]
            if outcome is COMPLAINED:
                row = _raise(rows, row, DELIVERED)
            seeded.append(_raise(rows, row, outcome) if outcome is not None else row)
    count_changes()
    return seeded


def _listed(
    rows: list[SendRow], outcomes: set[DeliveryOutcome], statuses: frozenset[EmailStatus] = frozenset({S, E})
) -> list[str]:
    return in_listing_order([r for r in rows if r.delivery in outcomes and r.status in statuses])


def _batch(rows: list[SendRow], name: str) -> str:
    return rows[sum(size for _, _, size in UPLOADS[: [u[0] for u in UPLOADS].index(name)])].batch_id


def _walk(graphql: GraphQL, first: int, **filters: Any) -> Iterator[dict[str, Any]]:
    after = None
    while True:
        result = graphql(LIST, first=first, after=after, **filters)
        assert "errors" not in result, result["errors"]
        page = result["data"]["listEmailStatus"]
        assert len(page["items"]) <= first
        yield page
        after = page["nextCursor"]
        if after is None:
            return


def _walked(graphql: GraphQL, first: int, **filters: Any) -> list[str]:
    return [item["sendId"] for page in _walk(graphql, first, **filters) for item in page["items"]]


@pytest.mark.parametrize("outcome", list(DeliveryOutcome))
def test_each_outcome_alone_lists_its_sent_and_error_rows_across_batches(
    graphql: GraphQL, seeded: list[SendRow], outcome: DeliveryOutcome
) -> None:
    # Given SENT, ERROR and QUEUED rows over four batches, some with the outcome
    expected = _listed(seeded, {outcome})
    # When the listing asks for that outcome alone, then it holds its SENT and ERROR rows of every batch
    assert expected and _walked(graphql, 50, delivery=[outcome.value]) == expected


@pytest.mark.parametrize("outcome", list(DeliveryOutcome))
def test_each_outcome_alone_lists_its_rows_of_one_batch(
    graphql: GraphQL, seeded: list[SendRow], outcome: DeliveryOutcome
) -> None:
    # Given a batch with rows of the outcome among others
    batch = _batch(seeded, "d")
    expected = _listed([r for r in seeded if r.batch_id == batch], {outcome})
    # When the listing asks for that outcome in that batch, then it holds that batch's rows of the outcome
    assert expected and _walked(graphql, 50, delivery=[outcome.value], batch=batch) == expected


def test_several_outcomes_list_the_rows_of_any_of_them_newest_batch_first_in_file_order(
    graphql: GraphQL, seeded: list[SendRow]
) -> None:
    # Given rows with every outcome over four batches
    # When the listing asks for two outcomes, and then for all five
    walked = _walked(graphql, 50, delivery=["BOUNCED", "COMPLAINED"])
    # Then each holds the rows of any outcome asked for, newest batch first, in file order
    assert walked == _listed(seeded, {BOUNCED, COMPLAINED})
    every = _walked(graphql, 50, delivery=[o.value for o in DeliveryOutcome])
    assert every == _listed(seeded, set(DeliveryOutcome))


def test_a_row_lists_under_its_latest_outcome_only(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given sent rows that were delivered and then complained about
    complained = {r.send_id for r in seeded if r.delivery is COMPLAINED and r.status is S}
    # When the listing asks for DELIVERED, then none of them is in it
    assert complained and not complained & set(_walked(graphql, 50, delivery=["DELIVERED"]))


def test_a_row_whose_event_overtook_the_worker_waits_for_its_final_status(
    graphql: GraphQL, seeded: list[SendRow]
) -> None:
    # Given QUEUED rows whose SES event arrived before the worker's result
    overtaken = {r.send_id for r in seeded if r.status is Q and r.delivery is not None}
    # When the listing asks for every outcome, then none of them is in it yet
    assert overtaken and not overtaken & set(_walked(graphql, 50, delivery=[o.value for o in DeliveryOutcome]))


@pytest.mark.parametrize("status", [["SENT"], ["ERROR"], ["SENT", "ERROR"]])
def test_status_narrows_the_outcome_to_sent_or_error_rows(
    graphql: GraphQL, seeded: list[SendRow], status: list[str]
) -> None:
    # Given SENT and ERROR rows with outcomes
    outcomes = {DELIVERED, BOUNCED, REJECTED}
    expected = _listed(seeded, outcomes, frozenset(EmailStatus(s) for s in status))
    assert expected
    # When the listing asks for the outcomes and SENT, ERROR or both, then it holds only rows of that status
    assert _walked(graphql, 50, delivery=[o.value for o in outcomes], status=status) == expected


def test_delivery_combines_with_dates_and_batch(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given uploads at 10:01, 10:03 (two) and 10:05, and a window from 10:02 to 10:04
    window = {"from": "2026-11-24T10:02:00Z", "to": "2026-11-24T10:04:00Z"}
    in_window = [r for r in seeded if _at("10:02") <= r.created_at <= _at("10:04")]
    expected = _listed(in_window, {DELIVERED, COMPLAINED})
    # When the listing asks for two outcomes in the window, then it holds the rows of the 10:03 uploads
    assert expected and _walked(graphql, 50, delivery=["DELIVERED", "COMPLAINED"], **window) == expected
    # And when it also names one of those batches, then it holds that batch's rows alone
    batch = _batch(seeded, "c")
    one = _listed([r for r in in_window if r.batch_id == batch], {DELIVERED, COMPLAINED})
    assert one and _walked(graphql, 50, delivery=["DELIVERED", "COMPLAINED"], batch=batch, **window) == one
    # And when it names the 10:01 batch, then it is empty
    assert _walked(graphql, 50, delivery=["DELIVERED"], batch=_batch(seeded, "a"), **window) == []


@pytest.mark.parametrize("first", [1, 2, 3, 5])
def test_small_pages_list_every_row_once_in_order(graphql: GraphQL, seeded: list[SendRow], first: int) -> None:
    # Given rows with three of the outcomes
    outcomes = {DELAYED, DELIVERED, COMPLAINED}
    # When the listing is walked 1 to 5 rows a page, then it holds every matching row once, in order
    assert _walked(graphql, first, delivery=[o.value for o in outcomes]) == _listed(seeded, outcomes)


def test_outcomes_moving_up_between_pages_are_neither_repeated_nor_dropped(
    graphql: GraphQL, seeded: list[SendRow], stack: LocalResources
) -> None:
    # Given a walk of DELAYED, DELIVERED and COMPLAINED rows, 2 a page
    rows = SendRows(stack.table_name)
    wanted = {DELAYED, DELIVERED, COMPLAINED}
    chance = random.Random(5)
    current = {r.send_id: r for r in seeded}
    ever = {r.send_id: {r.delivery} for r in seeded}
    listed: list[dict[str, Any]] = []
    for page in _walk(graphql, 2, delivery=[o.value for o in wanted]):
        listed += page["items"]
        # When, after each page, SES raises some rows' outcomes (and gives others their first)
        for send_id in chance.sample(sorted(current), 4):
            row = current[send_id]
            rank = OUTCOME_RANK[row.delivery] if row.delivery else 0
            higher = [o for o in DeliveryOutcome if OUTCOME_RANK[o] > rank]
            if higher:
                current[send_id] = _raise(rows, row, chance.choice(higher))
                ever[send_id].add(current[send_id].delivery)
    # Then no row is listed twice, each under an outcome asked for, and every row that had one of them
    # from start to end is listed
    ids = [item["sendId"] for item in listed]
    assert len(ids) == len(set(ids))
    assert all(item["delivery"]["outcome"] in wanted for item in listed)
    stayed = {i for i, seen in ever.items() if seen <= wanted and current[i].status in (S, E)}
    assert stayed <= set(ids)
    assert any(len(seen) > 1 for i, seen in ever.items() if i in stayed)


class RisingIndex(SendIndex):
    """Before each row query, SES events raise a few rows' outcomes: what a live walk meets, made
    certain between any two queries of a page's rounds."""

    def __init__(self, stack: LocalResources, rows: list[SendRow], seed: int) -> None:
        super().__init__(stack.table_name)
        self._rows = SendRows(stack.table_name)
        self._chance = random.Random(seed)
        self.current = {row.send_id: row for row in rows}
        self.ever = {row.send_id: {row.delivery} for row in rows}
        # A round's queries run in threads: one of them at a time raises outcomes.
        self._moving = threading.Lock()

    def _read(self, query: IndexQuery) -> IndexAnswer:
        with self._moving:
            for _ in range(self._chance.randint(0, 3)):
                row = self.current[self._chance.choice(sorted(self.current))]
                rank = OUTCOME_RANK[row.delivery] if row.delivery else 0
                higher = [o for o in DeliveryOutcome if OUTCOME_RANK[o] > rank]
                if higher:
                    self.current[row.send_id] = _raise(self._rows, row, self._chance.choice(higher))
                    self.ever[row.send_id].add(self.current[row.send_id].delivery)
        return super()._read(query)


@pytest.mark.parametrize("first", [3, 50])
@pytest.mark.parametrize("seed", range(2))
@pytest.mark.parametrize("by_batch", [True, False], ids=["batchId", "all batches"])
def test_every_row_is_listed_once_while_outcomes_rise_between_the_walks_queries(
    stack: LocalResources, seeded: list[SendRow], seed: int, first: int, by_batch: bool
) -> None:
    # Given a walk of delayed, delivered, bounced and complained rows
    wanted = {DELAYED, DELIVERED, BOUNCED, COMPLAINED}
    batch = _batch(seeded, "d") if by_batch else None
    index = RisingIndex(stack, seeded, seed)
    where = SendFilter(deliveries=sorted(wanted), batch_id=batch)
    listed: list[SendRow] = []
    after = None
    # When SES events raise outcomes between any two of its queries
    while True:
        page = list_sends(index, where, first=first, after=after)
        assert len(page.rows) <= first
        listed += page.rows
        after = page.next_cursor
        if after is None:
            break
    # Then each row is listed once, and every row that stayed in the filter is listed
    ids = [row.send_id for row in listed]
    assert len(ids) == len(set(ids))
    assert all(row.delivery in wanted and row.status in (S, E) for row in listed)
    in_scope = {r.send_id for r in seeded if (batch is None or r.batch_id == batch) and r.status in (S, E)}
    stayed = {i for i in in_scope if index.ever[i] <= wanted}
    assert stayed <= set(ids)
    assert any(len(index.ever[i]) > 1 for i in stayed)


@pytest.mark.parametrize(
    "filters",
    [
        {"delivery": ["BOUNCED"]},
        {"delivery": ["DELAYED", "DELIVERED", "BOUNCED", "REJECTED", "COMPLAINED"]},
        {"delivery": ["DELIVERED"], "batch": "d", "status": ["SENT"]},
        {"delivery": ["COMPLAINED", "DELIVERED"], "from": "2026-11-24T10:02:00Z"},
    ],
)
def test_every_delivery_listing_is_a_key_condition_query_on_the_delivery_index(
    graphql: GraphQL, seeded: list[SendRow], filters: dict[str, Any]
) -> None:
    # Given a delivery filter, alone or with others (a batch named by its upload)
    if "batch" in filters:
        filters = filters | {"batch": _batch(seeded, filters["batch"])}
    # When the listing is walked two rows a page, then it holds rows
    with recording("dynamodb") as log:
        assert _walked(graphql, 2, **filters)
    # Then every read was a key-condition Query or a GetItem, none filtering rows it had read, and the
    # rows were read from the delivery index
    operations = log.by_operation()
    assert set(operations) <= {"Query", "GetItem"}, operations
    for params, reply in log.of("Query"):
        assert "FilterExpression" not in params
        assert reply["ScannedCount"] == reply["Count"]
    row_queries = [params for params, _ in log.of("Query") if params["IndexName"] != "batches-newest"]
    assert row_queries and all(params["IndexName"] == DELIVERY_INDEX for params in row_queries)


def test_an_outcome_moves_the_rows_entry_to_its_family_in_the_same_write(
    stack: LocalResources, seeded: list[SendRow]
) -> None:
    # Given a delivered row
    rows = SendRows(stack.table_name)
    row = next(r for r in seeded if r.delivery is DELIVERED and r.status is S)
    # When a complaint follows, and then a late delay
    with recording("dynamodb") as log:
        complained = _raise(rows, row, COMPLAINED)
        assert rows.record_delivery(_event(row.send_id, DELAYED)).updated is None
    # Then the complaint was one read and one write (the key with the outcome), the delay a read alone
    assert [op for op, _, _ in log.calls] == ["GetItem", "UpdateItem", "GetItem"]
    (update,) = [params for params, _ in log.of("UpdateItem")]
    assert f"{DELIVERY_KEY} = :key" in update["UpdateExpression"]
    # And the row's entry is in the complaint's family, the delivery's empty of it
    index = SendIndex(stack.table_name)
    in_family = {
        outcome: [r.send_id for r in index._read(_family_query(complained, outcome)).rows]
        for outcome in (DELIVERED, COMPLAINED)
    }
    assert in_family == {DELIVERED: [], COMPLAINED: [row.send_id]}
    stored = rows.get(row.send_id)
    assert stored is not None and stored.delivery is COMPLAINED


def _family_query(row: SendRow, outcome: DeliveryOutcome) -> IndexQuery:
    key = delivery_key(row.batch_id, row.seq, outcome)
    stripe = int(key.rsplit("#", 1)[1])
    return IndexQuery(row.batch_id, OUTCOME_FAMILIES[outcome], stripe, row.seq, row.seq + 1, 10)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"delivery": ["BOUNCED"], "status": ["QUEUED"]}, "status QUEUED cannot be combined with delivery"),
        ({"delivery": ["BOUNCED"], "status": ["SENT", "PENDING"]}, "status PENDING cannot be combined with delivery"),
        ({"delivery": ["BOUNCED"], "first": 0}, "between 1 and"),
        ({"delivery": ["BOUNCED"], "batch": "nope"}, "batchId must be"),
        ({"delivery": ["BOUNCED"], "after": "not-a-cursor"}, "cursor"),
        ({"delivery": ["BOUNCE"]}, "Value 'BOUNCE' does not exist in 'DeliveryOutcome' enum"),
        ({"delivery": ["BOUNCED"], "status": ["SENDING"]}, "Value 'SENDING' does not exist in 'EmailStatus' enum"),
    ],
)
def test_bad_delivery_arguments_are_clear_graphql_errors_before_any_read(
    graphql: GraphQL, stack: LocalResources, variables: dict[str, Any], message: str
) -> None:
    # Given a delivery filter with an argument that contradicts it, is out of range or is not a value
    # When the listing is asked with it
    with recording("dynamodb") as log:
        result = graphql(LIST, **variables)
    # Then the answer is a GraphQL error that names the problem, given before any read
    assert result["data"] is None
    assert message in result["errors"][0]["message"]
    assert log.by_operation() == {}


def test_a_cursor_is_bound_to_its_delivery_filter(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given a cursor from a walk of bounced and complained rows, and one from a walk of SENT and ERROR rows
    bounced = graphql(LIST, first=1, delivery=["BOUNCED", "COMPLAINED"])["data"]["listEmailStatus"]["nextCursor"]
    final = graphql(LIST, first=1, status=["SENT", "ERROR"])["data"]["listEmailStatus"]["nextCursor"]
    # When either is presented with other filters, then it is refused, saying why
    for cursor, filters in (
        (bounced, {"delivery": ["COMPLAINED"]}),
        (bounced, {}),
        (bounced, {"delivery": ["BOUNCED", "COMPLAINED"], "status": ["SENT"]}),
        (final, {"delivery": ["BOUNCED"]}),
    ):
        result = graphql(LIST, first=1, after=cursor, **filters)
        assert result["data"] is None
        assert "other filters" in result["errors"][0]["message"]
    # And when it is presented with the same filters (in any order), then the walk goes on
    page = graphql(LIST, first=1, after=bounced, delivery=["COMPLAINED", "BOUNCED"])["data"]["listEmailStatus"]
    assert page["items"]


def test_an_empty_delivery_list_matches_no_row_and_reads_nothing(graphql: GraphQL, seeded: list[SendRow]) -> None:
    # Given rows with every outcome
    # When the listing asks for an empty list of outcomes
    with recording("dynamodb") as log:
        page = graphql(LIST, delivery=[])["data"]["listEmailStatus"]
    # Then it is one empty last page, answered without reading the table
    assert page == {"items": [], "nextCursor": None}
    assert log.by_operation() == {}
