"""The fleet's send pace: GCRA (the generic cell rate algorithm) with reservations, as arithmetic.

One number describes the shared bucket: `tat`, the "theoretical arrival time", when the next slot
nobody has reserved starts. Slots are 1/rate apart. Reserving takes the slots from max(tat, now) on
and moves tat past them, so every sender's slots are evenly spaced and never above the rate, however
many senders share the bucket; an idle bucket (tat in the past) restarts at now, with no credit
banked for the idle time (a burst after a quiet hour would pass SES's rate).

A sender only takes slots that start within the time it can wait (its horizon): the grant may be
partial, or nothing, and then the bucket says when its first free slot starts.

Times are whole microseconds since the epoch, as stored in DynamoDB (a number compares and adds
exactly there; a float's rounding could differ between writers). Slot i of a reservation starts
round(i * 10^6 / rate) microseconds after its first, so consecutive slots may be 1 microsecond
closer than 1/rate while the average over any run is the rate.
"""

from typing import NamedTuple, Protocol

from campaign.limits import SEND_RATE_HEADROOM

MICROS = 1_000_000


class Reservation(NamedTuple):
    """Tokens granted to one sender: token i may be sent at `slot(i)`."""

    count: int  # type: ignore[assignment]  # shadows tuple.count(), which a reservation never needs
    first_at: float  # epoch seconds of token 0
    interval: float  # seconds between tokens (0: not paced)
    next_free_at: float  # epoch seconds when the first slot NOT reserved starts

    def slot(self, i: int) -> float:
        return self.first_at + i * self.interval


class Pace(Protocol):
    """What a sender asks: `wanted` tokens, each to be sent no later than `horizon_seconds` from now."""

    def reserve(self, wanted: int, horizon_seconds: float) -> Reservation: ...


def unpaced(count: int, now: float) -> Reservation:
    """Every token now: sends are not paced (no rate is known)."""
    return Reservation(count=count, first_at=now, interval=0.0, next_free_at=now)


def fleet_rate(configured: float | None, account: float | None) -> float | None:
    """The rate the fleet paces at: SEND_RATE_HEADROOM of the lower of the configured cap and the SES
    account's MaxSendRate, whichever are known; None (not paced) when neither is."""
    known = [rate for rate in (configured, account) if rate is not None]
    return min(known) * SEND_RATE_HEADROOM if known else None


def to_micros(seconds: float) -> int:
    return round(seconds * MICROS)


def offset_us(i: int, rate: float) -> int:
    """Microseconds from a reservation's first slot to its slot i."""
    return round(i * MICROS / rate)


def increment_us(count: int, rate: float) -> int:
    """How far `count` tokens move tat."""
    return offset_us(count, rate)


def start_us(tat_us: int | None, now_us: int) -> int:
    """Where the next reservation starts: at tat, or at now if the bucket is idle (or has no tat)."""
    return now_us if tat_us is None else max(tat_us, now_us)


def fitting(start: int, now_us: int, wanted: int, horizon_us: int, rate: float) -> int:
    """How many of `wanted` slots from `start` start no later than now + horizon (0 to wanted)."""
    room = now_us + max(horizon_us, 0) - start
    if wanted <= 0 or room < 0:
        return 0
    count = min(wanted, int(room * rate / MICROS) + 1)
    # The float estimate may be one off from the rounded slot offsets; settle it on them.
    while count > 0 and offset_us(count - 1, rate) > room:
        count -= 1
    while count < wanted and offset_us(count, rate) <= room:
        count += 1
    return count


def latest_start_us(now_us: int, horizon_us: int, count: int, rate: float) -> int:
    """The latest tat from which `count` slots still all start within the horizon."""
    return now_us + max(horizon_us, 0) - offset_us(count - 1, rate)


def reservation(start: int, count: int, rate: float) -> Reservation:
    """`count` slots from `start` (microseconds); with count 0, just when the first free slot starts."""
    next_free = start + increment_us(count, rate)
    return Reservation(count=count, first_at=start / MICROS, interval=1 / rate, next_free_at=next_free / MICROS)


def take(tat_us: int | None, now_us: int, wanted: int, horizon_us: int, rate: float) -> tuple[Reservation, int | None]:
    """One reservation against a bucket held in memory: what is granted and the bucket's new tat.
    The DynamoDB bucket (campaign/aws/send_pace.py) makes the same step with conditional writes."""
    start = start_us(tat_us, now_us)
    count = fitting(start, now_us, wanted, horizon_us, rate)
    granted = reservation(start, count, rate)
    return granted, (start + increment_us(count, rate) if count else tat_us)
