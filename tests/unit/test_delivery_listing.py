"""How a page filtered by delivery outcome is planned and read (campaign/domain/listing_plan.py),
against a delivery index kept in memory whose rows move to higher-ranked outcomes (and enter it, and
change status) between any two of its queries, as DynamoDB's can."""

import random
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.domain.cursor import Position
from campaign.domain.listing_plan import (
    OUTCOME_FAMILIES,
    Family,
    delivery_reads,
    read_page,
)
from campaign.domain.models import BatchListing, SendRow
from campaign.domain.status import FINAL_STATUSES, OUTCOME_RANK, DeliveryOutcome, EmailStatus
from tests.support.hypothesis_profiles import examples
from tests.support.memory_index import MemoryIndex, batch_listing

P, Q, S, E = EmailStatus.PENDING, EmailStatus.QUEUED, EmailStatus.SENT, EmailStatus.ERROR
DELAYED, DELIVERED, BOUNCED, REJECTED, COMPLAINED = (
    DeliveryOutcome.DELAYED,
    DeliveryOutcome.DELIVERED,
    DeliveryOutcome.BOUNCED,
    DeliveryOutcome.REJECTED,
    DeliveryOutcome.COMPLAINED,
)
FAMILY_OUTCOME = {family: outcome for outcome, family in OUTCOME_FAMILIES.items()}
STATUS_MOVES = {P: [Q, S, E], Q: [S, E], S: [], E: []}


def _row(batch: str, seq: int, status: EmailStatus, outcome: DeliveryOutcome | None, created: str) -> SendRow:
    return SendRow(f"{batch}-{seq}", batch, seq, f"{seq}@{batch}", "s", status, created, created, delivery=outcome)


def _higher(outcome: DeliveryOutcome | None) -> list[DeliveryOutcome]:
    """Where an event may take a row's outcome: only to a higher rank."""
    rank = OUTCOME_RANK[outcome] if outcome is not None else 0
    return [o for o in DeliveryOutcome if OUTCOME_RANK[o] > rank]


class DeliveryIndex(MemoryIndex):
    """The delivery index: a row is in the family of its outcome, none if it has none."""

    def listed_in(self, row: SendRow, family: Family) -> bool:
        return row.delivery is FAMILY_OUTCOME[family]


def _walk(
    index: DeliveryIndex,
    batches: Sequence[BatchListing],
    outcomes: Sequence[DeliveryOutcome],
    statuses: Sequence[EmailStatus],
    first: int,
) -> list[SendRow]:
    reads = delivery_reads(outcomes, statuses)
    ranks = len({OUTCOME_RANK[o] for o in outcomes})
    start: Position | None = None
    listed: list[SendRow] = []
    for _ in range(10_000):
        later = [b for b in batches if start is None or (b.created_at, b.batch_id) <= start[:2]]
        before = index.rounds
        page = read_page(later, None, start, reads, first=first, max_bytes=10**12, read_round=index.read_round)
        assert len(page.rows) <= first
        # A round per rank asked for (one rank: a second pass, as for one kind of status family)
        assert index.rounds - before <= max(ranks, 2)
        listed += page.rows
        if page.next_position is None:
            return listed
        start = page.next_position
    raise AssertionError("the walk never ended")


outcome_or_none = st.sampled_from([None, *DeliveryOutcome])


@st.composite
def scenarios(
    draw: st.DrawFn,
) -> tuple[DeliveryIndex, list[BatchListing], list[DeliveryOutcome], list[EmailStatus], int, int]:
    index = DeliveryIndex()
    batches = []
    for number in range(draw(st.integers(1, 4))):
        name, created = f"b{number}", f"2026-11-24T10:{draw(st.integers(0, 2)):02d}:00.000000Z"
        size = draw(st.integers(0, 90))
        rows = []
        for seq in range(size):
            status = draw(st.sampled_from(list(EmailStatus)))
            # An outcome on an open row: the event overtook the worker's result
            outcome = draw(outcome_or_none) if status in FINAL_STATUSES or draw(st.booleans()) else None
            rows.append(_row(name, seq, status, outcome, created))
        index.rows |= {(name, row.seq): row for row in rows}
        batches.append(batch_listing(name, created, rows, size))
    batches.sort(key=lambda batch: (batch.created_at, batch.batch_id), reverse=True)
    outcomes = draw(st.lists(st.sampled_from(list(DeliveryOutcome)), min_size=1, max_size=5, unique=True))
    statuses = draw(st.sampled_from([[S, E], [S], [E]]))
    return index, batches, outcomes, statuses, draw(st.integers(1, 60)), draw(st.integers(0, 2**32))


@settings(max_examples=examples(300), deadline=None)
@given(scenarios())
def test_a_walk_lists_every_row_that_stays_in_the_filter_exactly_once_whatever_outcomes_move_meanwhile(
    scenario: tuple[DeliveryIndex, list[BatchListing], list[DeliveryOutcome], list[EmailStatus], int, int],
) -> None:
    # Given batches of rows with and without outcomes, and SES events that raise outcomes (or give a
    # row its first) and a worker that finishes rows, between any two index queries of the walk
    index, batches, outcomes, statuses, first, seed = scenario
    chance = random.Random(seed)
    at_start = dict(index.rows)
    ever: dict[tuple[str, int], set[tuple[EmailStatus, DeliveryOutcome | None]]] = {
        key: {(row.status, row.delivery)} for key, row in at_start.items()
    }

    def meanwhile() -> None:
        for _ in range(chance.randint(0, 3)):
            if not index.rows:
                return
            key = chance.choice(sorted(index.rows))
            row = index.rows[key]
            if chance.random() < 0.7 and _higher(row.delivery):
                row = row._replace(delivery=chance.choice(_higher(row.delivery)))
            elif STATUS_MOVES[row.status]:
                row = row._replace(status=chance.choice(STATUS_MOVES[row.status]))
            index.rows[key] = row
            ever[key].add((row.status, row.delivery))

    index.between = meanwhile
    random.seed(seed)
    # When the whole listing is walked, page by page
    listed = _walk(index, batches, outcomes, statuses, first)
    # Then no row is listed twice, each listed row was in the filter when it was read, and every row
    # that was in the filter from start to end is listed
    keys = [(row.batch_id, row.seq) for row in listed]
    assert len(keys) == len(set(keys))
    assert all(row.status in statuses and row.delivery in outcomes for row in listed)
    stayed = {
        key for key, seen in ever.items() if all(status in statuses and outcome in outcomes for status, outcome in seen)
    }
    assert stayed <= set(keys)


def test_outcome_families_are_read_a_rank_at_a_time_lowest_first() -> None:
    # When a filter on four outcomes of three ranks is planned for SENT and ERROR rows
    reads = delivery_reads([COMPLAINED, REJECTED, DELAYED, BOUNCED], [S, E])
    # Then the families are read a rank at a time, lowest first, those of one rank in the same round, each keeping the
    # statuses asked for
    assert [(read.family, read.round) for read in reads] == [
        (Family.DELAYED, 0),
        (Family.BOUNCED, 1),
        (Family.REJECTED, 1),
        (Family.COMPLAINED, 2),
    ]
    assert all(read.keep == frozenset({S, E}) for read in reads)


def _dense_and_sparse(rows_per_batch: int, bounced_every: int) -> tuple[DeliveryIndex, list[BatchListing]]:
    """Three batches of SENT rows, all DELIVERED but one in `bounced_every`, BOUNCED."""
    index = DeliveryIndex()
    batches = []
    for number in range(3):
        name, created = f"b{number}", f"2026-11-24T10:0{number}:00.000000Z"
        rows = [
            _row(name, seq, S, BOUNCED if seq % bounced_every == 0 else DELIVERED, created)
            for seq in range(rows_per_batch)
        ]
        index.rows |= {(name, row.seq): row for row in rows}
        batches.append(batch_listing(name, created, rows, rows_per_batch))
    batches.reverse()
    return index, batches


def test_a_walk_of_a_common_outcome_reads_little_more_than_it_lists() -> None:
    # Given 1,500 SENT rows, 98% delivered
    index, batches = _dense_and_sparse(500, 50)
    # When the delivered ones are walked 50 at a time
    listed = _walk(index, batches, [DELIVERED], [S, E], 50)
    # Then each is listed once, newest batch first and in file order, with little read in vain
    expected = [(b.batch_id, seq) for b in batches for seq in range(500) if seq % 50]
    assert [(row.batch_id, row.seq) for row in listed] == expected
    assert index.items_read / len(listed) <= 1.4


def test_a_walk_of_a_rare_outcome_fills_its_pages_reading_about_what_it_lists() -> None:
    # Given 1,500 SENT rows, 2% bounced (the summaries do not say how many, nor where)
    index, batches = _dense_and_sparse(500, 50)
    pages: list[int] = []
    start: Position | None = None
    reads = delivery_reads([BOUNCED], [S, E])
    # When they are walked 8 at a time
    while True:
        later = [b for b in batches if start is None or (b.created_at, b.batch_id) <= start[:2]]
        page = read_page(later, None, start, reads, first=8, max_bytes=10**12, read_round=index.read_round)
        pages.append(len(page.rows))
        if page.next_position is None:
            break
        start = page.next_position
    # Then all 30 are listed in at most six pages, reading no more than twice as many rows as it lists
    assert sum(pages) == 30, pages
    assert len(pages) <= 6, pages
    assert index.items_read <= 2 * 30


def test_a_page_reads_the_families_of_several_ranks_one_round_each() -> None:
    # Given three batches of 40 SENT rows, one in four BOUNCED and the others DELIVERED
    index, batches = _dense_and_sparse(40, 4)
    # When a page of both outcomes, large enough for all of them, is read
    page = read_page(
        batches,
        None,
        None,
        delivery_reads([BOUNCED, DELIVERED], [S]),
        first=200,
        max_bytes=10**12,
        read_round=index.read_round,
    )
    # Then the DELIVERED family is read in one round and the BOUNCED one in the next, and the page holds every row
    assert index.families == [[Family.DELIVERED], [Family.BOUNCED]]
    assert len(page.rows) == 120
