"""The send status model and the only transitions it allows."""

from enum import StrEnum


class EmailStatus(StrEnum):
    """Where a send is: accepted, on the queue, or finished one way or the other."""

    PENDING = "PENDING"
    QUEUED = "QUEUED"
    SENT = "SENT"
    ERROR = "ERROR"


FINAL_STATUSES: frozenset[EmailStatus] = frozenset({EmailStatus.SENT, EmailStatus.ERROR})
# A worker may claim a row that is on the queue, or one whose enqueue looked failed (its message may
# still have reached SQS: an ambiguous SendMessageBatch error leaves the row PENDING).
CLAIMABLE_STATUSES: frozenset[EmailStatus] = frozenset({EmailStatus.PENDING, EmailStatus.QUEUED})

_FORWARD: dict[EmailStatus, frozenset[EmailStatus]] = {
    EmailStatus.PENDING: frozenset({EmailStatus.QUEUED, EmailStatus.SENT, EmailStatus.ERROR}),
    EmailStatus.QUEUED: frozenset({EmailStatus.SENT, EmailStatus.ERROR}),
    EmailStatus.SENT: frozenset(),
    EmailStatus.ERROR: frozenset(),
}


def can_move(current: EmailStatus, target: EmailStatus) -> bool:
    """Statuses only move forward and a final status never changes."""
    return target in _FORWARD[current]
