"""The send pace's arithmetic (campaign/domain/pace.py): a GCRA bucket with reservations, held in
memory here exactly as the DynamoDB bucket holds it (tat in whole microseconds)."""

from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from campaign.domain.pace import MICROS, Reservation, fleet_rate, take, unpaced
from campaign.limits import SEND_RATE_HEADROOM

NOW = 1_800_000_000 * MICROS  # an epoch time in microseconds, as the bucket stores it
# Float epoch seconds carry ~0.24 us of resolution and slots are whole microseconds: 1 us of slack.
ROUNDING = 1e-6


def test_a_full_grant_takes_evenly_spaced_slots_from_now() -> None:
    # Given an idle bucket at 10 per second
    # When 5 tokens are wanted within a second
    granted, tat = take(None, NOW, 5, MICROS, 10.0)

    # Then all 5 come, a tenth of a second apart from now, and the bucket is reserved past them
    assert granted.count == 5
    assert [granted.slot(i) for i in range(5)] == [NOW / MICROS + i / 10 for i in range(5)]
    assert tat == NOW + MICROS // 2
    assert granted.next_free_at == tat / MICROS


def test_a_grant_is_partial_when_the_horizon_holds_fewer_slots() -> None:
    # Given an idle bucket at 10 per second
    # When 50 tokens are wanted within one second
    granted, tat = take(None, NOW, 50, MICROS, 10.0)

    # Then the slots at 0.0, 0.1 ... 1.0 s are granted (a slot starting at the horizon counts): 11
    assert granted.count == 11
    assert tat == NOW + 11 * MICROS // 10


def test_nothing_is_granted_beyond_the_horizon_and_the_bucket_says_when_it_frees() -> None:
    # Given a bucket reserved 5 seconds ahead
    tat = NOW + 5 * MICROS

    # When a token is wanted within 2 seconds
    granted, new_tat = take(tat, NOW, 1, 2 * MICROS, 10.0)

    # Then none is granted, the bucket is unchanged, and its first free slot is 5 s from now
    assert granted.count == 0
    assert new_tat == tat
    assert granted.next_free_at == tat / MICROS


def test_a_zero_horizon_grants_the_slot_starting_now_only() -> None:
    # Given an idle bucket
    # When 3 tokens are wanted with no time to wait
    granted, _ = take(None, NOW, 3, 0, 10.0)

    # Then exactly the one slot starting now is granted
    assert granted.count == 1
    assert granted.first_at == NOW / MICROS


def test_an_idle_bucket_restarts_at_now_without_banking_credit_for_the_idle_time() -> None:
    # Given a bucket last used an hour ago
    an_hour_ago = NOW - 3600 * MICROS

    # When 100 tokens are wanted with no time to wait, then one more at the same moment
    burst, tat = take(an_hour_ago, NOW, 100, 0, 10.0)
    after, _ = take(tat, NOW, 1, MICROS, 10.0)

    # Then the hour earned nothing: one token now, and the next one a slot later
    assert burst.count == 1
    assert burst.first_at == NOW / MICROS
    assert after.first_at == NOW / MICROS + 0.1


def test_reservations_continue_where_the_last_one_ended() -> None:
    # Given a bucket where 3 tokens were just reserved at 4 per second
    first, tat = take(None, NOW, 3, 10 * MICROS, 4.0)

    # When 2 more are reserved at the same moment
    second, _ = take(tat, NOW, 2, 10 * MICROS, 4.0)

    # Then they start a slot after the first reservation's last token
    assert second.first_at == first.slot(2) + 0.25
    assert second.first_at == first.next_free_at


def test_unpaced_grants_everything_now() -> None:
    # When sends are not paced
    granted = unpaced(7, 1234.5)

    # Then every token is due now
    assert granted == Reservation(count=7, first_at=1234.5, interval=0.0, next_free_at=1234.5)
    assert granted.slot(6) == 1234.5


def test_the_fleet_paces_just_under_the_lower_known_rate() -> None:
    # Given a configured cap and the account's rate, either or both known
    # When the fleet's rate is worked out
    # Then the fleet aims at the headroom's share of the lower one
    assert fleet_rate(20.0, 14.0) == pytest.approx(14.0 * SEND_RATE_HEADROOM)
    assert fleet_rate(5.0, 14.0) == pytest.approx(5.0 * SEND_RATE_HEADROOM)
    assert fleet_rate(None, 14.0) == pytest.approx(14.0 * SEND_RATE_HEADROOM)
    assert fleet_rate(20.0, None) == pytest.approx(20.0 * SEND_RATE_HEADROOM)
    assert 0.9 < SEND_RATE_HEADROOM < 1


def test_without_any_known_rate_sends_are_not_paced() -> None:
    # Given neither a configured cap nor the account's rate
    # When the fleet's rate is worked out, then there is none: sends go unpaced
    assert fleet_rate(None, None) is None


requests = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=3 * MICROS),  # microseconds since the previous request
        st.integers(min_value=0, max_value=40),  # tokens wanted
        st.integers(min_value=-MICROS, max_value=5 * MICROS),  # horizon in microseconds
    ),
    min_size=1,
    max_size=40,
)


@given(rate=st.floats(min_value=0.1, max_value=1000.0), sequence=requests)
def test_granted_slots_are_increasing_spaced_by_the_rate_and_within_each_horizon(
    rate: float, sequence: list[tuple[int, int, int]]
) -> None:
    # Given a bucket used by reservations at nondecreasing times
    tat: int | None = None
    now = NOW
    slots: list[float] = []

    for pause, wanted, horizon in sequence:
        # When each reserves what it wants within its horizon
        now += pause
        granted, tat = take(tat, now, wanted, horizon, rate)
        new = [granted.slot(i) for i in range(granted.count)]

        # Then it gets no more than it wanted, none before now, none after now + horizon
        assert 0 <= granted.count <= wanted
        assert all(now / MICROS - ROUNDING <= slot <= (now + max(horizon, 0)) / MICROS + ROUNDING for slot in new)
        slots += new

    # And across all of them the slots strictly increase, at least 1/rate apart
    gaps = [later - earlier for earlier, later in pairwise(slots)]
    assert all(gap >= 1 / rate - ROUNDING for gap in gaps)
    assert all(gap > 0 for gap in gaps)


@given(rate=st.floats(min_value=0.1, max_value=1000.0), wanted=st.integers(1, 500), horizon=st.integers(0, 10 * MICROS))
def test_a_grant_takes_every_slot_that_fits_the_horizon(rate: float, wanted: int, horizon: int) -> None:
    # Given an idle bucket
    # When tokens are wanted within a horizon
    granted, _ = take(None, NOW, wanted, horizon, rate)

    # Then it stops only at `wanted` or at the first slot past the horizon
    assert granted.count >= 1
    if granted.count < wanted:
        assert granted.slot(granted.count) > (NOW + horizon) / MICROS - ROUNDING
