"""The circuit breaker's state machine, without storage: when failures open it, when it may be probed,
and what the probe's outcome does."""

from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from campaign.domain.breaker import (
    CLOSED_STATE,
    BreakerPolicy,
    BreakerState,
    Phase,
    after_failure,
    after_success,
    claimed,
    may_probe,
    phase,
    probe_at,
    window_of,
)
from tests.support.hypothesis_profiles import examples

POLICY = BreakerPolicy(failures_to_open=3, window_seconds=60, cooldown_seconds=30)
# The start of a window, so that offsets from it say which window a time is in.
T0 = 1_800_000_000.0


def _fail(state: BreakerState, *times: float, probe: bool = False) -> BreakerState:
    for now in times:
        state = after_failure(state, now, POLICY, probe=probe)
    return state


def _open_at(now: float) -> BreakerState:
    return _fail(CLOSED_STATE, now, now, now)


def test_a_breaker_nobody_has_touched_is_closed() -> None:
    # Given / When
    state = CLOSED_STATE
    # Then
    assert phase(state, T0, POLICY) is Phase.CLOSED
    assert probe_at(state, POLICY) is None


def test_failures_below_the_threshold_leave_it_closed() -> None:
    # Given / When: one failure short of the threshold, within a window
    state = _fail(CLOSED_STATE, T0, T0 + 10)
    # Then
    assert phase(state, T0 + 11, POLICY) is Phase.CLOSED
    assert state.failures == 2


def test_the_threshold_within_a_window_opens_it_at_the_last_failure() -> None:
    # Given
    state = _fail(CLOSED_STATE, T0, T0 + 10)
    # When
    state = _fail(state, T0 + 59)
    # Then
    assert phase(state, T0 + 59, POLICY) is Phase.OPEN
    assert state.opened_at == T0 + 59


def test_failures_in_an_earlier_window_do_not_count() -> None:
    # Given: two failures at the end of one window
    state = _fail(CLOSED_STATE, T0 + 58, T0 + 59)
    # When: one more at the start of the next
    state = _fail(state, T0 + 60)
    # Then: the new window holds one failure, not three
    assert phase(state, T0 + 60, POLICY) is Phase.CLOSED
    assert (state.window, state.failures) == (window_of(T0 + 60, POLICY), 1)


def test_it_stays_open_until_the_cooldown_ends_then_is_half_open() -> None:
    # Given
    state = _open_at(T0)
    # When / Then
    assert phase(state, T0 + 29.9, POLICY) is Phase.OPEN
    assert not may_probe(state, T0 + 29.9, POLICY)
    assert phase(state, T0 + 30, POLICY) is Phase.HALF_OPEN
    assert may_probe(state, T0 + 30, POLICY)
    assert probe_at(state, POLICY) == T0 + 30


def test_a_claimed_probe_keeps_everyone_else_from_probing() -> None:
    # Given: half-open
    state = _open_at(T0)
    # When: one send claims the probe
    state = claimed(state, T0 + 30, POLICY)
    # Then: it is still half-open, but nobody else may probe
    assert phase(state, T0 + 31, POLICY) is Phase.HALF_OPEN
    assert not may_probe(state, T0 + 31, POLICY)


def test_a_probe_claim_that_is_never_reported_runs_out_after_the_cooldown() -> None:
    # Given: a probe claimed by a worker that then died
    state = claimed(_open_at(T0), T0 + 30, POLICY)
    # When / Then: another send may probe once the claim has run out
    assert probe_at(state, POLICY) == T0 + 60
    assert not may_probe(state, T0 + 59.9, POLICY)
    assert may_probe(state, T0 + 60, POLICY)


def test_the_probes_success_closes_it_and_forgets_the_failures() -> None:
    # Given
    state = claimed(_open_at(T0), T0 + 30, POLICY)
    # When
    state = after_success(state, probe=True)
    # Then
    assert state == CLOSED_STATE
    assert phase(state, T0 + 31, POLICY) is Phase.CLOSED


def test_a_success_that_was_not_the_probe_leaves_it_open() -> None:
    # Given: a send that was under way when the breaker opened
    state = _open_at(T0)
    # When
    after = after_success(state, probe=False)
    # Then
    assert after == state


def test_the_probes_failure_opens_it_again_for_a_new_cooldown() -> None:
    # Given
    state = claimed(_open_at(T0), T0 + 30, POLICY)
    # When
    state = _fail(state, T0 + 31, probe=True)
    # Then
    assert (state.opened_at, state.probe_until) == (T0 + 31, None)
    assert phase(state, T0 + 60, POLICY) is Phase.OPEN
    assert phase(state, T0 + 61, POLICY) is Phase.HALF_OPEN


def test_more_failures_while_open_do_not_move_its_opening() -> None:
    # Given: sends that were under way when it opened
    state = _open_at(T0)
    # When
    state = _fail(state, T0 + 1, T0 + 2, T0 + 3)
    # Then
    assert state.opened_at == T0


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=600, allow_nan=False), max_size=30))
def test_it_opens_exactly_when_some_window_collects_the_threshold(offsets: list[float]) -> None:
    # Given: failures at any times, in time order
    times = sorted(T0 + offset for offset in offsets)
    # When
    state = _fail(CLOSED_STATE, *times)
    # Then: it opened iff some window held enough failures, at the failure that made it enough
    per_window = Counter(window_of(now, POLICY) for now in times)
    crowded = [w for w, failures in per_window.items() if failures >= POLICY.failures_to_open]
    if not crowded:
        assert state.opened_at is None
    else:
        first = min(crowded)
        in_first = [now for now in times if window_of(now, POLICY) == first]
        assert state.opened_at == in_first[POLICY.failures_to_open - 1]
