"""Timestamps as fixed-width ISO-8601 UTC strings, so that string order is time order in DynamoDB keys."""

from datetime import UTC, datetime

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
# strftime's %Y does not zero-pad years before 1000 on Linux ("999-…" would sort after "2026-…").
_FORMAT_AFTER_YEAR = "-%m-%dT%H:%M:%S.%fZ"


def to_iso(moment: datetime) -> str:
    """Naive datetimes are taken as UTC; aware ones are converted."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    utc = moment.astimezone(UTC)
    return f"{utc.year:04d}{utc.strftime(_FORMAT_AFTER_YEAR)}"


def from_iso(text: str) -> datetime:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)


def now_iso() -> str:
    return to_iso(datetime.now(UTC))
