"""A circuit breaker for one email provider, as pure state and the rules that move it.

CLOSED: sends go through the provider. `failures_to_open` transient failures (the provider certainly
did not take the message: throttled, unreachable, a 4xx/5xx service error) counted in one fixed window
of `window_seconds` OPEN it, and the worker sends through the next provider. A fixed window (not a
sliding one) keeps the count to one number per provider that an atomic ADD can keep.

`cooldown_seconds` after it opened it is HALF-OPEN: one send in the whole fleet may probe it, the one
that claims the probe first; everyone else still treats it as open. The probe's success CLOSES it (the
count starts again); its failure OPENS it again, for a new cooldown. A claim lasts `cooldown_seconds`
too: a probe whose worker died (the worker's timeout equals the default cooldown) never reports, and
must not hold the breaker half-open for ever, so once its claim runs out another send may probe.

Times are epoch seconds. campaign/aws/breakers.py keeps one state per provider in DynamoDB, shared by
every worker; this module decides, it never reads or writes.
"""

from enum import StrEnum
from typing import NamedTuple

from campaign.limits import BREAKER_COOLDOWN_SECONDS, BREAKER_FAILURES_TO_OPEN, BREAKER_WINDOW_SECONDS


class BreakerPolicy(NamedTuple):
    failures_to_open: int = BREAKER_FAILURES_TO_OPEN
    window_seconds: float = BREAKER_WINDOW_SECONDS
    cooldown_seconds: float = BREAKER_COOLDOWN_SECONDS


class BreakerState(NamedTuple):
    """What the provider's item holds; the defaults (no item at all) are a closed breaker."""

    # The window the failures were counted in (see `window_of`), and how many.
    window: int = 0
    failures: int = 0
    # When it opened (None: closed), and until when a probe's claim holds (None: no probe claimed).
    opened_at: float | None = None
    probe_until: float | None = None


CLOSED_STATE = BreakerState()
DEFAULT_POLICY = BreakerPolicy()


class Phase(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"


def window_of(now: float, policy: BreakerPolicy) -> int:
    """The fixed window a time falls in: windows are aligned on the epoch, so every worker (whose
    clocks agree closely) counts a failure into the same one."""
    return int(now // policy.window_seconds)


def phase(state: BreakerState, now: float, policy: BreakerPolicy) -> Phase:
    """HALF_OPEN says the cooldown is over, whether or not someone holds the probe (`may_probe`)."""
    if state.opened_at is None:
        return Phase.CLOSED
    if now < state.opened_at + policy.cooldown_seconds:
        return Phase.OPEN
    return Phase.HALF_OPEN


def probe_at(state: BreakerState, policy: BreakerPolicy) -> float | None:
    """The earliest time a send may probe the breaker: when the cooldown ends, or later when a live
    claim runs out. None for a closed breaker (nothing to probe: every send goes through)."""
    if state.opened_at is None:
        return None
    cooled = state.opened_at + policy.cooldown_seconds
    return cooled if state.probe_until is None else max(cooled, state.probe_until)


def may_probe(state: BreakerState, now: float, policy: BreakerPolicy) -> bool:
    """Half-open and nobody holds a live claim: a send may try to claim the probe."""
    earliest = probe_at(state, policy)
    return earliest is not None and now >= earliest


def claim_expiry(now: float, policy: BreakerPolicy) -> float:
    """Until when a probe claimed at `now` holds: a send is over within the worker's timeout, which
    the default cooldown equals."""
    return now + policy.cooldown_seconds


def claimed(state: BreakerState, now: float, policy: BreakerPolicy) -> BreakerState:
    """The probe claimed at `now`: nobody else probes until the claim runs out."""
    return state._replace(probe_until=claim_expiry(now, policy))


def counted(state: BreakerState, now: float, policy: BreakerPolicy) -> BreakerState:
    """One more failure in the window of `now`; the count of an earlier window is dropped."""
    window = window_of(now, policy)
    if state.window >= window:  # a newer window means a worker whose clock runs a little ahead
        return state._replace(failures=state.failures + 1)
    return state._replace(window=window, failures=1)


def reaches_threshold(state: BreakerState, now: float, policy: BreakerPolicy) -> bool:
    """A closed breaker whose current window holds enough failures to open it."""
    return (
        state.opened_at is None and state.window >= window_of(now, policy) and state.failures >= policy.failures_to_open
    )


def opened(state: BreakerState, now: float) -> BreakerState:
    """Open from `now` (again, after a failed probe: a new cooldown, and no claim)."""
    return state._replace(opened_at=now, probe_until=None)


def after_failure(state: BreakerState, now: float, policy: BreakerPolicy, *, probe: bool) -> BreakerState:
    """What a transient failure does: a failed probe opens the breaker again at once; any other
    failure is counted, and opens a closed breaker when it reaches the threshold."""
    if probe and state.opened_at is not None:
        return opened(state, now)
    state = counted(state, now, policy)
    return opened(state, now) if reaches_threshold(state, now, policy) else state


def after_success(state: BreakerState, *, probe: bool) -> BreakerState:
    """A probe's success closes the breaker and forgets its failures; any other success changes
    nothing (a send that was already under way when the breaker opened proves little)."""
    return CLOSED_STATE if probe and state.opened_at is not None else state
