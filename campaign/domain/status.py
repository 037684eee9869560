"""The send status model, the only transitions it allows, and how statuses are grouped for listing."""

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
    SUPPRESSED = "suppressed"  # the recipient was suppressed after the ingest queued the send: not sent


# The only ERROR rows a DLQ re-drive may send again (as a new send): provably never accepted by SES.
RESENDABLE_ERRORS: frozenset[ErrorKind] = frozenset({ErrorKind.RETRIES_EXHAUSTED})


def can_move(current: EmailStatus, target: EmailStatus) -> bool:
    """Statuses only move forward and a final status never changes."""
    return target in _FORWARD[current]


class ListingClass(StrEnum):
    """The index partition a row is listed in. PENDING and QUEUED share one, so that the one move
    between them (an operator's re-drive of rows SQS refused) never moves a row between partitions;
    every other move goes from OPEN to a final class, and a listing reads OPEN before the final ones,
    so a row that moves while a page is read is seen in one or the other (docs/DESIGN.md)."""

    OPEN = "OPEN"
    SENT = "SENT"
    ERROR = "ERROR"


def listing_class(status: EmailStatus) -> ListingClass:
    if status is EmailStatus.SENT:
        return ListingClass.SENT
    if status is EmailStatus.ERROR:
        return ListingClass.ERROR
    return ListingClass.OPEN


class DeliveryOutcome(StrEnum):
    """What the mailbox provider said about a SENT message (SES events; campaign/domain/delivery.py)."""

    DELAYED = "DELAYED"
    DELIVERED = "DELIVERED"
    BOUNCED = "BOUNCED"
    REJECTED = "REJECTED"
    COMPLAINED = "COMPLAINED"


# The outcome only moves to a higher rank: a delay may be followed by a delivery, a delivery by a
# complaint; a bounce and a rejection are final failures. Events repeated or out of order change nothing.
OUTCOME_RANK: dict[DeliveryOutcome, int] = {
    DeliveryOutcome.DELAYED: 1,
    DeliveryOutcome.DELIVERED: 2,
    DeliveryOutcome.BOUNCED: 3,
    DeliveryOutcome.REJECTED: 3,
    DeliveryOutcome.COMPLAINED: 4,
}
