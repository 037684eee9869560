"""Timestamps as fixed-width ISO-8601 UTC strings, so that string order is time order in DynamoDB keys."""

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_iso(moment: datetime) -> str:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_FORMAT)


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)


def now_iso() -> str:
    return to_iso(datetime.now(UTC))
