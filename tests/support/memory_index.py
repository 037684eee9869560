"""A listing index kept in memory, for planning tests: rows by (batch, seq), answering IndexQuery as
DynamoDB's indexes would. `between` runs before each query: one query is atomic, the reads of a round
are not, so a test can move rows between any two of them."""

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from campaign.domain.listing_plan import Family, IndexAnswer, IndexQuery
from campaign.domain.models import BatchListing, SendRow, StatusCounts
from campaign.domain.status import EmailStatus
from campaign.limits import LISTING_STRIPES


@dataclass
class MemoryIndex:
    rows: dict[tuple[str, int], SendRow] = field(default_factory=dict)
    between: Callable[[], None] = lambda: None
    rounds: int = 0
    items_read: int = 0
    # The families each round read, in order.
    families: list[list[Family]] = field(default_factory=list)

    def listed_in(self, row: SendRow, family: Family) -> bool:
        """Whether the row is in the family's partition (each index says)."""
        raise NotImplementedError

    def read_round(self, queries: Sequence[IndexQuery]) -> list[IndexAnswer]:
        self.rounds += 1
        self.families.append(sorted({query.family for query in queries}))
        answers = []
        for query in random.sample(list(queries), len(queries)):  # side by side: any order
            self.between()
            answers.append((query, self._read(query)))
        return [answer for query in queries for q, answer in answers if q is query]

    def _read(self, query: IndexQuery) -> IndexAnswer:
        matches = sorted(
            (
                row
                for (batch, seq), row in self.rows.items()
                if batch == query.batch_id
                and query.start <= seq < query.end
                and seq % LISTING_STRIPES == query.stripe
                and self.listed_in(row, query.family)
            ),
            key=lambda row: row.seq,
        )
        self.items_read += min(len(matches), query.limit)
        return IndexAnswer(matches[: query.limit], truncated=len(matches) > query.limit)


def batch_listing(batch: str, created: str, rows: Sequence[SendRow], positions: int) -> BatchListing:
    """A batch's summary as the listing reads it: its rows counted by status."""
    statuses = (EmailStatus.PENDING, EmailStatus.QUEUED, EmailStatus.SENT, EmailStatus.ERROR)
    counts = StatusCounts(*(sum(1 for row in rows if row.status is s) for s in statuses))
    return BatchListing(batch, created, positions, counts)
