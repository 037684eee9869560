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


class ErrorKind(StrEnum):
    """Why a send ended in ERROR; decides whether an operator may send it again."""

    PERMANENT = "permanent"  # SES refused it; sending again would fail again
    RETRIES_EXHAUSTED = "retries_exhausted"  # every attempt failed transiently: SES never accepted it
    UNKNOWN_OUTCOME = "unknown_outcome"  # SES may have accepted it; resending risks a duplicate


# The only ERROR rows a DLQ re-drive may reopen: provably never accepted by SES.
REOPENABLE_ERRORS: frozenset[ErrorKind] = frozenset({ErrorKind.RETRIES_EXHAUSTED})


def can_move(current: EmailStatus, target: EmailStatus) -> bool:
    """Statuses only move forward and a final status never changes."""
    return target in _FORWARD[current]
