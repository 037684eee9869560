"""How a listing page is planned and read (campaign/domain/listing_plan.py), against an index kept in
memory that can move rows between any two of its queries, as DynamoDB's can."""

import random
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.domain.cursor import Position
from campaign.domain.listing_plan import (
    Family,
    family_reads,
    plan_spans,
    queries_for,
    read_page,
    row_json_bytes,
)
from campaign.domain.models import BatchListing, SendRow, StatusCounts
from campaign.domain.status import EmailStatus
from campaign.limits import LISTING_STRIPES
from tests.support.hypothesis_profiles import examples
from tests.support.memory_index import MemoryIndex, batch_listing

P, Q, S, E = EmailStatus.PENDING, EmailStatus.QUEUED, EmailStatus.SENT, EmailStatus.ERROR
IN_FAMILY = {Family.OPEN: {P, Q}, Family.PENDING: {P}, Family.SENT: {S}, Family.ERROR: {E}}
# Every move a row can make: forward ones (the worker, a re-drive of PENDING rows). A dead-letter
# re-drive does not move a row: it adds a new one (`Index.resend`).
MOVES = {P: [Q, S, E], Q: [S, E], S: [], E: []}


def _row(batch: str, seq: int, status: EmailStatus, created: str) -> SendRow:
    return SendRow(f"{batch}-{seq}", batch, seq, f"{seq}@{batch}", "s", status, created, created)


class Index(MemoryIndex):
    """The status listing's index: a row is in the family of its status."""

    def listed_in(self, row: SendRow, family: Family) -> bool:
        return row.status in IN_FAMILY[family]

    def move(self, key: tuple[str, int], status: EmailStatus) -> None:
        self.rows[key] = self.rows[key]._replace(status=status)

    def resend(self, key: tuple[str, int], positions: dict[str, int]) -> None:
        """An operator re-drives an ERROR row: a new row at the end of its batch, the old one stays."""
        batch, _ = key
        old = self.rows[key]
        self.rows[(batch, positions[batch])] = _row(batch, positions[batch], Q, old.created_at)
        positions[batch] += 1


def _walk(index: Index, batches: Sequence[BatchListing], statuses: Sequence[EmailStatus], first: int) -> list[SendRow]:
    reads = family_reads(statuses)
    start: Position | None = None
    listed: list[SendRow] = []
    for _ in range(10_000):
        # As list_sends picks them: the batches at or after the cursor's in (createdAt, batchId) order
        later = [b for b in batches if start is None or (b.created_at, b.batch_id) <= start[:2]]
        before = index.rounds
        page = read_page(later, None, start, reads, first=first, max_bytes=10**12, read_round=index.read_round)
        assert len(page.rows) <= first
        assert index.rounds - before <= 2  # plus the summaries' round: at most three
        listed += page.rows
        if page.next_position is None:
            return listed
        start = page.next_position
    raise AssertionError("the walk never ended")


statuses = st.sampled_from(list(EmailStatus))


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Index, list[BatchListing], dict[str, int], list[EmailStatus], int, int]:
    index = Index()
    batches = []
    positions: dict[str, int] = {}
    for number in range(draw(st.integers(1, 4))):
        # Some batches share their creation time: the order then goes by batch id
        name, created = f"b{number}", f"2026-11-24T10:{draw(st.integers(0, 2)):02d}:00.000000Z"
        size = draw(st.integers(0, 90))
        rows = [_row(name, seq, draw(statuses), created) for seq in range(size)]
        index.rows |= {(name, row.seq): row for row in rows}
        positions[name] = size
        batches.append(batch_listing(name, created, rows, size))
    batches.sort(key=lambda batch: (batch.created_at, batch.batch_id), reverse=True)
    wanted = draw(st.lists(statuses, min_size=1, max_size=4, unique=True))
    return index, batches, positions, wanted, draw(st.integers(1, 60)), draw(st.integers(0, 2**32))


@settings(max_examples=examples(300), deadline=None)
@given(scenarios())
def test_a_walk_lists_every_row_that_stays_in_the_filter_exactly_once_whatever_moves_meanwhile(
    scenario: tuple[Index, list[BatchListing], dict[str, int], list[EmailStatus], int, int],
) -> None:
    # Given batches of rows in every status, and a worker and an operator that move rows forward and
    # re-drive ERROR rows (as new rows) between any two index queries of the walk
    index, batches, positions, wanted, first, seed = scenario
    chance = random.Random(seed)
    at_start = dict(index.rows)
    ever: dict[tuple[str, int], set[EmailStatus]] = {key: {row.status} for key, row in at_start.items()}

    def meanwhile() -> None:
        for _ in range(chance.randint(0, 3)):
            key = chance.choice(sorted(index.rows))
            status = index.rows[key].status
            if status is E and chance.random() < 0.3:
                index.resend(key, positions)
            elif MOVES[status]:
                index.move(key, chance.choice(MOVES[status]))
                ever.setdefault(key, set()).add(index.rows[key].status)

    index.between = meanwhile
    random.seed(seed)
    # When the whole listing is walked, page by page
    listed = _walk(index, batches, wanted, first)
    # Then no row is listed twice, each listed row was in the filter when it was read, and every row
    # that was in the filter from start to end is listed
    keys = [(row.batch_id, row.seq) for row in listed]
    assert len(keys) == len(set(keys))
    assert all(row.status in wanted for row in listed)
    stayed = {key for key, seen in ever.items() if key in at_start and seen <= set(wanted)}
    assert stayed <= set(keys)


def test_a_walk_over_rows_that_do_not_move_lists_them_in_order_reading_no_row_twice() -> None:
    # Given three batches of 500 rows, half SENT half QUEUED at random
    rng = random.Random(7)
    index = Index()
    batches = []
    for number in range(3):
        name, created = f"b{number}", f"2026-11-24T10:0{number}:00.000000Z"
        rows = [_row(name, seq, rng.choice([Q, S]), created) for seq in range(500)]
        index.rows |= {(name, row.seq): row for row in rows}
        batches.append(batch_listing(name, created, rows, 500))
    batches.reverse()
    # When it is walked 50 at a time without a filter
    listed = _walk(index, batches, list(EmailStatus), 50)
    # Then every row is listed once, newest batch first and in file order, with little read in vain
    assert [(row.batch_id, row.seq) for row in listed] == [(f"b{n}", seq) for n in (2, 1, 0) for seq in range(500)]
    assert index.items_read / len(listed) <= 1.2


def test_a_range_is_planned_from_the_counts_to_hold_about_a_page() -> None:
    # Given a batch of 1,000 positions of which 100 are ERROR rows
    batch = BatchListing("b", "2026-11-24T10:00:00.000000Z", 1000, StatusCounts(sent=900, error=100))
    # When a page of 50 ERROR rows is planned
    (span,) = plan_spans([batch], None, family_reads([E]), 50)
    # Then it covers the positions expected to hold 50 of them, and no more
    assert (span.start, span.end) == (0, 500)


def test_a_batch_with_nothing_of_the_statuses_asked_for_is_read_whole_at_the_cost_of_requests() -> None:
    # Given a newer batch with no ERROR rows and an older one of ERROR rows only
    empty = BatchListing("a", "2026-11-24T10:01:00.000000Z", 300, StatusCounts(sent=300))
    full = BatchListing("b", "2026-11-24T10:00:00.000000Z", 300, StatusCounts(error=300))
    # When a page of 50 ERROR rows is planned
    spans = plan_spans([empty, full], None, family_reads([E]), 50)
    # Then the newer batch is read whole (the counts say nothing is there, and only requests prove it) and the older one
    # for 50 positions
    assert [(s.batch.batch_id, s.start, s.end) for s in spans] == [("a", 0, 300), ("b", 0, 50)]


def test_each_stripe_of_a_range_is_one_query_with_room_for_chance() -> None:
    # Given a batch of 1,000 SENT rows, and a page of 80 SENT rows planned from it
    batch = BatchListing("b", "2026-11-24T10:00:00.000000Z", 1000, StatusCounts(sent=1000))
    (span,) = plan_spans([batch], None, family_reads([S]), 80)
    # When the range is turned into queries
    queries = queries_for([span], family_reads([S])[0], 80)
    # Then there is one query per stripe, each over the whole range, each asking for a stripe's share of the page with
    # room for chance
    assert sorted(q.stripe for q in queries) == list(range(LISTING_STRIPES))
    assert all((q.start, q.end) == (0, 80) for q in queries)
    assert all(80 / LISTING_STRIPES < q.limit <= 81 for q in queries)


def test_open_rows_are_read_before_final_ones_and_pending_alone_from_its_own_index() -> None:
    # When the reads for every status, for PENDING and ERROR, and for QUEUED alone are planned
    # Then the open rows are read in the first round and the final ones in the second; PENDING alone is read from its
    # own index; a read keeps only the statuses asked for
    assert [(r.family, r.round) for r in family_reads(list(EmailStatus))] == [
        (Family.OPEN, 0),
        (Family.SENT, 1),
        (Family.ERROR, 1),
    ]
    assert [(r.family, r.round) for r in family_reads([P, E])] == [(Family.PENDING, 0), (Family.ERROR, 1)]
    assert [r.keep for r in family_reads([Q])] == [frozenset({Q})]


def test_a_page_stops_before_its_byte_budget_and_names_the_next_row() -> None:
    # Given a batch of ten SENT rows of 1,000 bytes of content each, and a byte budget that holds three rows and a byte
    created = "2026-11-24T10:00:00.000000Z"
    index = Index(rows={("b", seq): _row("b", seq, S, created)._replace(content_json_bytes=1000) for seq in range(10)})
    batch = BatchListing("b", created, 10, StatusCounts(sent=10))
    budget = 3 * row_json_bytes(index.rows[("b", 0)]) + 1
    # When a page of up to ten rows is read
    page = read_page([batch], None, None, family_reads([S]), first=10, max_bytes=budget, read_round=index.read_round)
    # Then it holds the first three rows and names the fourth as where the next page starts
    assert [row.seq for row in page.rows] == [0, 1, 2]
    assert page.next_position == Position(created, "b", 3)
