"""The fleet's send-rate bucket in DynamoDB (campaign/aws/send_pace.py), on the emulated table: each
SendPace stands for one worker instance, and they all share the table's one pace item."""

import threading
from itertools import pairwise

import pytest

from campaign.aws.clients import client
from campaign.aws.send_pace import SendPace, UnpacedSends
from campaign.aws.table_schema import PACE_KEY, PARTITION_KEY, TTL_ATTRIBUTE
from scripts.local.provision import LocalResources
from tests.support.aws_calls import recording

T0 = 1_800_000_000.0
# Float epoch seconds carry ~0.24 us of resolution and slots are whole microseconds: 1 us of slack.
ROUNDING = 1e-6


class Clock:
    """Time stands still unless a test moves it, so that grants are exact."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _pace(stack: LocalResources, rate: float, clock: Clock) -> SendPace:
    return SendPace(stack.table_name, rate, clock=clock)


def test_a_reservation_on_a_bucket_this_instance_has_seen_is_one_request(stack: LocalResources) -> None:
    # Given an instance that has reserved before
    clock = Clock()
    pace = _pace(stack, 10.0, clock)
    pace.reserve(3, 5.0)

    # When it reserves again
    with recording("dynamodb") as log:
        granted = pace.reserve(3, 5.0)

    # Then one UpdateItem took the next three slots
    assert log.by_operation() == {"UpdateItem": 1}
    assert granted.count == 3
    assert granted.first_at == pytest.approx(T0 + 0.3, abs=ROUNDING)


def test_a_new_instance_on_a_busy_bucket_reserves_in_one_request(stack: LocalResources) -> None:
    # Given a bucket another instance keeps busy
    clock = Clock()
    _pace(stack, 10.0, clock).reserve(5, 5.0)

    # When a new instance reserves
    with recording("dynamodb") as log:
        granted = _pace(stack, 10.0, clock).reserve(2, 5.0)

    # Then one UpdateItem took the slots after the other instance's
    assert log.by_operation() == {"UpdateItem": 1}
    assert granted.first_at == pytest.approx(T0 + 0.5, abs=ROUNDING)


def test_a_grant_is_partial_when_the_horizon_holds_fewer_slots(stack: LocalResources) -> None:
    # Given an idle bucket at 10 per second
    pace = _pace(stack, 10.0, Clock())

    # When 50 tokens are wanted within a second
    granted = pace.reserve(50, 1.0)

    # Then the 11 slots starting from now to a second from now are granted, a tenth of a second apart
    assert granted.count == 11
    assert granted.first_at == T0
    assert granted.interval == pytest.approx(0.1)
    assert granted.next_free_at == pytest.approx(T0 + 1.1, abs=ROUNDING)


def test_nothing_is_granted_beyond_the_horizon_and_next_free_at_says_when(stack: LocalResources) -> None:
    # Given a bucket reserved 10 seconds ahead
    clock = Clock()
    _pace(stack, 1.0, clock).reserve(10, 60.0)
    pace = _pace(stack, 1.0, clock)

    # When an instance wants a token within 5 seconds
    granted = pace.reserve(1, 5.0)

    # Then none is granted, and the first free slot is 10 seconds from now
    assert granted.count == 0
    assert granted.next_free_at == pytest.approx(T0 + 10, abs=ROUNDING)


def test_a_grant_the_last_seen_bucket_rules_out_costs_no_request(stack: LocalResources) -> None:
    # Given an instance that has seen the bucket reserved 10 seconds ahead
    clock = Clock()
    pace = _pace(stack, 1.0, clock)
    pace.reserve(10, 60.0)

    # When it wants a token within 5 seconds
    with recording("dynamodb") as log:
        granted = pace.reserve(1, 5.0)

    # Then it knows without asking (the bucket's tat only grows)
    assert granted.count == 0
    assert log.count() == 0


def test_a_grant_shrinks_to_the_slots_other_instances_left(stack: LocalResources) -> None:
    # Given an instance that saw the bucket at 1 s ahead, and another that has since reserved up to 4 s
    clock = Clock()
    pace = _pace(stack, 1.0, clock)
    pace.reserve(1, 60.0)
    _pace(stack, 1.0, clock).reserve(3, 60.0)

    # When the first wants 10 tokens within 5 seconds
    with recording("dynamodb") as log:
        granted = pace.reserve(10, 5.0)

    # Then its first write fails on the bucket it did not know, and the retry takes the 2 slots left
    assert log.by_operation() == {"UpdateItem": 2}
    assert (granted.count, granted.first_at) == (2, T0 + 4)


def test_an_instance_that_saw_an_idle_bucket_follows_it_once_busy_again(stack: LocalResources) -> None:
    # Given an instance that last saw the bucket idle, and another that has since made it busy
    clock = Clock()
    pace = _pace(stack, 1.0, clock)
    pace.reserve(1, 60.0)
    clock.now = T0 + 100
    _pace(stack, 1.0, clock).reserve(3, 60.0)

    # When the first reserves
    granted = pace.reserve(1, 60.0)

    # Then it gets the slot after the other's, not now
    assert granted.first_at == T0 + 103


def test_an_idle_bucket_restarts_at_now(stack: LocalResources) -> None:
    # Given a bucket last used an hour ago
    clock = Clock()
    _pace(stack, 10.0, clock).reserve(100, 60.0)
    clock.now = T0 + 3600

    # When a new instance wants 5 tokens with no time to wait
    granted = _pace(stack, 10.0, clock).reserve(5, 0.0)

    # Then the slot starting now is the only one granted: the idle hour banked nothing
    assert granted.count == 1
    assert granted.first_at == T0 + 3600
    assert granted.next_free_at == pytest.approx(T0 + 3600.1, abs=ROUNDING)


def test_a_negative_horizon_counts_as_none(stack: LocalResources) -> None:
    # Given an idle bucket
    # When tokens are wanted within a negative horizon
    granted = _pace(stack, 10.0, Clock()).reserve(5, -3.0)

    # Then the slot starting now is granted, as with no time to wait
    assert granted.count == 1
    assert granted.first_at == T0


def test_wanting_nothing_makes_no_request(stack: LocalResources) -> None:
    # When an instance wants no token
    with recording("dynamodb") as log:
        granted = _pace(stack, 10.0, Clock()).reserve(0, 5.0)

    # Then it gets none, without asking
    assert granted.count == 0
    assert log.count() == 0


def test_the_bucket_item_expires_a_day_after_its_reservations(stack: LocalResources) -> None:
    # When an instance reserves 5 seconds ahead
    _pace(stack, 1.0, Clock()).reserve(5, 5.0)

    # Then the pace item carries a time to live a day later, so an idle bucket's item goes away
    item = client("dynamodb").get_item(TableName=stack.table_name, Key={PARTITION_KEY: {"S": PACE_KEY}})["Item"]
    assert int(item[TTL_ATTRIBUTE]["N"]) == int(T0) + 5 + 86_400


def test_concurrent_instances_share_the_rate_exactly(stack: LocalResources) -> None:
    # Given 4 instances at the same moment, each reserving 3 tokens at a time within 2 seconds at 100/s
    clock, rate, horizon, threads = Clock(), 100.0, 2.0, 4
    slots: list[list[float]] = [[] for _ in range(threads)]
    errors: list[BaseException] = []
    start = threading.Barrier(threads)

    def worker(mine: list[float]) -> None:
        pace = _pace(stack, rate, clock)
        start.wait()
        try:
            while True:
                granted = pace.reserve(3, horizon)
                mine += [granted.slot(i) for i in range(granted.count)]
                if granted.count == 0 and granted.next_free_at > T0 + horizon:
                    return  # the bucket is full up to the horizon (not just contended)
        except BaseException as exc:
            errors.append(exc)

    # When they all reserve until the bucket is full
    running = [threading.Thread(target=worker, args=(mine,)) for mine in slots]
    for thread in running:
        thread.start()
    for thread in running:
        thread.join()

    # Then every slot from now to the horizon went to exactly one instance, 1/rate apart
    assert errors == []
    every = sorted(slot for mine in slots for slot in mine)
    assert len(every) == int(horizon * rate) + 1
    assert all(later - earlier >= 1 / rate - ROUNDING for earlier, later in pairwise(every))
    assert every[0] == T0
    assert every[-1] <= T0 + horizon + ROUNDING


def test_unpaced_sends_grant_everything_now_without_a_request(aws: None) -> None:
    # When sends are not paced
    with recording("dynamodb") as log:
        granted = UnpacedSends(clock=Clock()).reserve(250, 1.0)

    # Then every token is due now, and nothing asked DynamoDB
    assert (granted.count, granted.first_at, granted.interval) == (250, T0, 0.0)
    assert log.count() == 0
