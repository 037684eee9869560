"""How a page of listEmailStatus is read: which batches, which position ranges, which index partitions,
in which rounds, and how the answers become one page. Plain Python; the reads themselves are done by a
callable the service passes in (campaign/services/list_sends.py).

The order is batches newest first, then each batch's rows by position (`seq`). Positions are dense
(every data record of a file has one), so a batch's summary (its positions and status counts) says
how many positions hold about `first` rows of the requested statuses. Each requested index family is
read over exactly that range, split by stripe (`seq mod LISTING_STRIPES`), so nothing is read that the
page will not show unless the counts were off (the per-query limits bound that waste).

Three rounds at most: the batch summaries, then the OPEN family (PENDING and QUEUED) or the PENDING
family, then the final families (SENT, ERROR) side by side. A status change moves a row from OPEN to a
final family (never back: a dead-letter re-drive creates a new row), so a row that moves between the
second and the third round is in one answer or both (both: the later copy is kept), never in neither.

A `delivery` filter reads the delivery index's families instead, one per outcome, by the same rule: an
outcome only moves to a higher rank, so the families are read a rank at a time, lowest first (a
bounce and a rejection, of one rank, side by side). The summaries do not count outcomes per stretch,
so such a page reads the rest of its batches with each stripe asked for its share of a page.
"""

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from enum import StrEnum
from typing import NamedTuple

from campaign.domain.cursor import Position
from campaign.domain.histogram import end_for, expected_rows
from campaign.domain.models import BatchListing, SendRow
from campaign.domain.status import FINAL_STATUSES, OUTCOME_RANK, DeliveryOutcome, EmailStatus
from campaign.limits import LISTING_STRIPES


class Family(StrEnum):
    """An index partition family of one batch: the listing index's status classes, the sparse index
    that holds PENDING rows only, and the sparse delivery index's outcomes (a row is there once SES
    reported on its message, under its latest outcome)."""

    OPEN = "OPEN"
    PENDING = "PENDING"
    SENT = "SENT"
    ERROR = "ERROR"
    DELAYED = "DELAYED"
    DELIVERED = "DELIVERED"
    BOUNCED = "BOUNCED"
    REJECTED = "REJECTED"
    COMPLAINED = "COMPLAINED"


# The delivery index's family of each outcome.
OUTCOME_FAMILIES: dict[DeliveryOutcome, Family] = {outcome: Family(outcome.value) for outcome in DeliveryOutcome}
_OUTCOME_FAMILY_SET = frozenset(OUTCOME_FAMILIES.values())


def is_outcome_family(family: Family) -> bool:
    return family in _OUTCOME_FAMILY_SET


_FAMILY_STATUSES: dict[Family, frozenset[EmailStatus]] = {
    Family.OPEN: frozenset({EmailStatus.PENDING, EmailStatus.QUEUED}),
    Family.PENDING: frozenset({EmailStatus.PENDING}),
    Family.SENT: frozenset({EmailStatus.SENT}),
    Family.ERROR: frozenset({EmailStatus.ERROR}),
}


class FamilyRead(NamedTuple):
    family: Family
    # What the page keeps of what the family returns (OPEN read for QUEUED alone drops PENDING rows).
    keep: frozenset[EmailStatus]
    # Read after, never beside, the reads of a lower round. Statuses: 0 the open families, 1 the final
    # ones. Outcomes: the rank's place among the ranks asked for.
    round: int


def family_reads(statuses: Iterable[EmailStatus]) -> tuple[FamilyRead, ...]:
    wanted = frozenset(statuses)
    reads: list[FamilyRead] = []
    if EmailStatus.QUEUED in wanted:
        reads.append(FamilyRead(Family.OPEN, wanted & _FAMILY_STATUSES[Family.OPEN], 0))
    elif EmailStatus.PENDING in wanted:
        reads.append(FamilyRead(Family.PENDING, frozenset({EmailStatus.PENDING}), 0))
    for family in (Family.SENT, Family.ERROR):
        if _FAMILY_STATUSES[family] <= wanted:
            reads.append(FamilyRead(family, _FAMILY_STATUSES[family], 1))
    return tuple(reads)


def delivery_reads(outcomes: Iterable[DeliveryOutcome], statuses: Iterable[EmailStatus]) -> tuple[FamilyRead, ...]:
    """The delivery index's families of `outcomes`, a round per rank, lowest first: an outcome only
    moves to a higher rank, so a row that moves while a page is read is in one answer or both. Outcomes
    of one rank (BOUNCED, REJECTED: no row moves between them) share a round. The page keeps the rows
    of `statuses` (an event may overtake the worker's result: such a row waits for its final status)."""
    wanted = sorted(set(outcomes), key=lambda outcome: (OUTCOME_RANK[outcome], outcome.value))
    ranks = sorted({OUTCOME_RANK[outcome] for outcome in wanted})
    keep = frozenset(statuses)
    return tuple(FamilyRead(OUTCOME_FAMILIES[o], keep, ranks.index(OUTCOME_RANK[o])) for o in wanted)


class Span(NamedTuple):
    """Positions [start, end) of one batch that the page reads."""

    batch: BatchListing
    start: int
    end: int


def _from_start(batches: Sequence[BatchListing], start: Position | None) -> Iterator[tuple[BatchListing, int]]:
    """Each batch with the first position the page reads of it: the cursor's in the cursor's batch (the
    first of `batches`, or before it), 0 in the later ones. A batch with no position left from there
    holds nothing the page can show: it is passed over."""
    for batch in batches:
        first = start.seq if start is not None and batch.batch_id == start.batch_id else 0
        if first < batch.positions:
            yield batch, first


def plan_spans(
    batches: Sequence[BatchListing], start: Position | None, reads: Sequence[FamilyRead], need: int
) -> list[Span]:
    """The ranges expected to hold about `need` rows, batch after batch from `start` (the first of
    `batches`, or before it). A batch whose counts promise nothing is taken whole (its reads cost
    requests, not rows)."""
    if any(is_outcome_family(read.family) for read in reads):
        return _unsized_spans(batches, start, need)
    kept = frozenset().union(*(read.keep for read in reads))
    spans: list[Span] = []
    expected = 0.0
    for batch, first in _from_start(batches, start):
        end = end_for(batch, kept, first, need - expected)
        if end is not None:
            spans.append(Span(batch, first, max(end, first + 1)))
            return spans
        spans.append(Span(batch, first, batch.positions))
        expected += expected_rows(batch, kept, first, batch.positions)
    return spans


def _unsized_spans(batches: Sequence[BatchListing], start: Position | None, need: int) -> list[Span]:
    """Spans for families the summaries do not count (the delivery index's outcomes): the rest of each
    batch, whose stripes are asked for their share of a page (queries_for), so a page reads about a
    page whatever the outcome's density. Batches are taken until those taken could fill the page if
    every final row of theirs had the outcome (an outcome is recorded for sent messages only); the
    next page, or the single-round second pass, goes on from there."""
    spans: list[Span] = []
    could_hold = 0.0
    for batch, first in _from_start(batches, start):
        spans.append(Span(batch, first, batch.positions))
        could_hold += expected_rows(batch, FINAL_STATUSES, first, batch.positions)
        if could_hold >= need:
            break
    return spans


class IndexQuery(NamedTuple):
    """One Query: the rows of one stripe of one family of a batch with `start <= seq < end`."""

    batch_id: str
    family: Family
    stripe: int
    start: int
    end: int
    limit: int


class IndexAnswer(NamedTuple):
    rows: list[SendRow]  # by seq
    truncated: bool  # the range holds more rows than were returned


def _stripes_in(start: int, end: int) -> range:
    return range(min(LISTING_STRIPES, end - start))


def _stripe(position: int) -> int:
    return position % LISTING_STRIPES


def queries_for(spans: Sequence[Span], read: FamilyRead, need: int, *, limit: int | None = None) -> list[IndexQuery]:
    """A query per stripe that holds positions of a span. Its limit is what the counts lead one to
    expect in that stripe, with room for chance (or `limit`); a limit that is reached ends the page
    there."""
    queries = []
    # No stripe holds more than its share of a page: stripes interleave position by position.
    share = math.ceil(need / LISTING_STRIPES) + 2
    for span in spans:
        if limit is not None:
            span_limit = limit
        elif is_outcome_family(read.family):  # not counted: each stripe reads its share of a page
            span_limit = math.ceil(need / LISTING_STRIPES) + 1
        else:
            statuses = _FAMILY_STATUSES[read.family]
            per_stripe = expected_rows(span.batch, statuses, span.start, span.end) / LISTING_STRIPES
            span_limit = max(3, min(math.ceil(1.5 * per_stripe) + 2, share))
        for offset in _stripes_in(span.start, span.end):
            stripe = _stripe(span.start + offset)
            queries.append(IndexQuery(span.batch.batch_id, read.family, stripe, span.start, span.end, span_limit))
    return queries


def cut_at_horizons(spans: Sequence[Span], answers: Iterable[tuple[IndexQuery, IndexAnswer]]) -> list[Span]:
    """The spans as far as every query covered them: a truncated answer covers its stripe only up to
    its last row, so the page ends there, and later spans are dropped."""
    ends = {(span.batch.batch_id, span.start): span.end for span in spans}
    for query, answer in answers:
        if answer.truncated and answer.rows:
            key = (query.batch_id, query.start)
            ends[key] = min(ends[key], answer.rows[-1].seq + 1)
    cut: list[Span] = []
    for span in spans:
        end = ends[(span.batch.batch_id, span.start)]
        if end > span.start:
            cut.append(span._replace(end=end))
        if end < span.end:
            break
    return cut


ReadRound = Callable[[Sequence[IndexQuery]], list[IndexAnswer]]

# Field names, punctuation, ids and timestamps of one EmailSend in a GraphQL answer, with room to spare.
_ROW_JSON_OVERHEAD = 440


def _json_bytes(text: str | None) -> int:
    return len(json.dumps(text)) if text is not None else 4


def row_json_bytes(row: SendRow) -> int:
    """What the row weighs in the answer, every field included (non-ASCII escaped, the worst case)."""
    strings = (row.email, row.subject, row.error, row.provider, row.provider_message_id, row.resent_as, row.resend_of)
    return _ROW_JSON_OVERHEAD + row.content_json_bytes + sum(_json_bytes(s) for s in strings)


class PageRows(NamedTuple):
    rows: list[SendRow]
    next_position: Position | None
    # The page ended because the batch summaries read ran out (the next should read more of them).
    short_of_batches: bool = False


def read_page(
    batches: Sequence[BatchListing],
    more_batches: Position | None,
    start: Position | None,
    reads: Sequence[FamilyRead],
    *,
    first: int,
    max_bytes: int,
    read_round: ReadRound,
) -> PageRows:
    """Plan the page, read its families round by round, and assemble it. `more_batches` is the first
    position after the last of `batches`, if the summaries read showed there is one.

    When every family asked for is read in the same round (the open ones alone, or the final ones
    alone), the second round is free: a first pass that found less than a page (the counts promised
    rows that sit elsewhere in the batch, as when a campaign is sent in file order) is followed by a
    second pass over the rest of that batch, each stripe asked for its share of what is missing, in
    position order (stripes interleave row by row, so their shares end near one another). Rows only
    ever leave the open families and only ever enter the final ones, so reading either kind at two
    moments cannot make a row that stays in it vanish.
    """
    kept: dict[tuple[str, int], SendRow] = {}
    keep = {read.family: read.keep for read in reads}

    def read_pass(
        spans: list[Span], round_reads: Sequence[FamilyRead], need: int, limit: int | None = None
    ) -> list[Span]:
        queries = [query for read in round_reads for query in queries_for(spans, read, need, limit=limit)]
        if not queries:
            return spans
        answers = list(zip(queries, read_round(queries), strict=True))
        for query, answer in answers:  # a later round's copy of a row replaces an earlier one
            for row in answer.rows:
                kept[(row.batch_id, row.seq)] = row if row.status in keep[query.family] else _DROPPED
        return cut_at_horizons(spans, answers)

    spans = plan_spans(batches, start, reads, first)
    rounds = sorted({read.round for read in reads})
    if len(rounds) > 1:
        for round_index in rounds:
            spans = read_pass(spans, [read for read in reads if read.round == round_index], first)
    else:
        planned = spans
        spans = read_pass(spans, reads, first)
        found = sum(1 for row in kept.values() if row is not _DROPPED)
        onward = _after(spans, batches, None) if spans == planned and found < first else None
        batch = next((b for b in batches if onward is not None and b.batch_id == onward.batch_id), None)
        if onward is not None and batch is not None:
            missing = first - found
            share = math.ceil(missing / LISTING_STRIPES) + 1
            spans += read_pass([Span(batch, onward.seq, batch.positions)], reads, missing, limit=share)
    page = _assemble(spans, kept, batches, more_batches, first=first, max_bytes=max_bytes)
    ran_out = more_batches is not None and page.next_position == more_batches and len(page.rows) < first
    return page._replace(short_of_batches=ran_out)


# Marks a row whose latest copy is of a status the page does not show (it moved out of the filter).
_DROPPED = SendRow("", "", -1, "", "", EmailStatus.PENDING, "", "")


def _assemble(
    spans: Sequence[Span],
    kept: dict[tuple[str, int], SendRow],
    batches: Sequence[BatchListing],
    more_batches: Position | None,
    *,
    first: int,
    max_bytes: int,
) -> PageRows:
    rows: list[SendRow] = []
    weight = 0
    last_created = ""  # the creation time of the batch of the last row kept
    for span in spans:
        in_span = sorted(
            (
                row
                for (batch_id, seq), row in kept.items()
                if batch_id == span.batch.batch_id and span.start <= seq < span.end
            ),
            key=lambda row: row.seq,
        )
        for row in in_span:
            if row is _DROPPED:
                continue
            weight += row_json_bytes(row)
            if rows and (len(rows) == first or weight > max_bytes):
                last = rows[-1]
                return PageRows(rows, Position(last_created, last.batch_id, last.seq + 1))
            rows.append(row)
            last_created = span.batch.created_at
    return PageRows(rows, _after(spans, batches, more_batches))


def _after(spans: Sequence[Span], batches: Sequence[BatchListing], more_batches: Position | None) -> Position | None:
    """Where the next page starts once every span was shown whole: the rest of the last batch read,
    else the next batch with rows, else whatever the summaries showed beyond them."""
    if spans:
        last = spans[-1]
        if last.end < last.batch.positions:
            return Position(last.batch.created_at, last.batch.batch_id, last.end)
        ids = [batch.batch_id for batch in batches]
        later = batches[ids.index(last.batch.batch_id) + 1 :]
        for batch in later:
            if batch.positions > 0:
                return Position(batch.created_at, batch.batch_id, 0)
    return more_batches
