"""The providers' circuit breakers on the emulated table. Two `Breakers` on one table stand for two
worker instances; a clock the test moves makes windows, cooldowns and claims exact."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from campaign.aws.breakers import Breakers
from campaign.domain.breaker import BreakerPolicy, Phase
from scripts.local.provision import LocalResources
from tests.support.aws_calls import recording

POLICY = BreakerPolicy(failures_to_open=3, window_seconds=60, cooldown_seconds=30)
PROVIDERS = ("ses", "smtp")
# The start of a window.
T0 = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def first(stack: LocalResources, clock: Clock) -> Breakers:
    return Breakers(stack.table_name, PROVIDERS, POLICY, clock)


@pytest.fixture
def second(stack: LocalResources, clock: Clock) -> Breakers:
    return Breakers(stack.table_name, PROVIDERS, POLICY, clock)


def _open(breakers: Breakers, provider: str = "ses") -> None:
    for _ in range(POLICY.failures_to_open):
        breakers.record_failure(provider)
    assert breakers.phase(provider) is Phase.OPEN


def _half_open(clock: Clock, *instances: Breakers) -> None:
    clock.now += POLICY.cooldown_seconds
    for breakers in instances:
        breakers.refresh()
        assert breakers.phase("ses") is Phase.HALF_OPEN


def test_a_breaker_nobody_has_written_is_closed(first: Breakers) -> None:
    # Given: no breaker item
    # When
    first.refresh()
    # Then
    assert first.phase("ses") is Phase.CLOSED
    assert first.admits("ses") is True
    assert first.seconds_until_probe() is None


def test_failures_recorded_by_two_instances_add_up_and_open_it_for_both(first: Breakers, second: Breakers) -> None:
    # Given: one failure short of the threshold, from the first instance
    for _ in range(POLICY.failures_to_open - 1):
        assert first.record_failure("ses") is False
    # When: the second instance's failure reaches the threshold
    opened = second.record_failure("ses")
    first.refresh()
    # Then
    assert opened is True
    assert (first.admits("ses"), second.admits("ses")) == (False, False)
    assert (first.phase("smtp"), first.admits("smtp")) == (Phase.CLOSED, True)


def test_the_instance_that_opens_it_knows_without_a_refresh(first: Breakers) -> None:
    # Given
    first.refresh()
    # When
    _open(first)
    # Then
    assert first.admits("ses") is False


def test_failures_in_an_earlier_window_do_not_add_up(first: Breakers, second: Breakers, clock: Clock) -> None:
    # Given: failures one short of the threshold at the end of a window
    clock.now = T0 + 59
    for _ in range(POLICY.failures_to_open - 1):
        first.record_failure("ses")
    # When: another one in the next window
    clock.now = T0 + 60
    opened = second.record_failure("ses")
    first.refresh()
    # Then
    assert opened is False
    assert first.phase("ses") is Phase.CLOSED


def test_only_one_of_two_instances_wins_the_half_open_probe(first: Breakers, second: Breakers, clock: Clock) -> None:
    # Given: a breaker past its cooldown
    _open(first)
    _half_open(clock, first, second)
    # When
    admitted = (second.admits("ses"), first.admits("ses"))
    # Then: one probe; the winner sends no second one either
    assert admitted == (True, False)
    assert second.admits("ses") is False


def test_one_probe_among_the_threads_of_an_instance(first: Breakers, clock: Clock) -> None:
    # Given
    _open(first)
    _half_open(clock, first)
    # When: sixteen sends ask at once
    with ThreadPoolExecutor(16) as pool:
        admitted = list(pool.map(lambda _: first.admits("ses"), range(16)))
    # Then
    assert admitted.count(True) == 1


def test_the_probes_success_closes_it_for_the_other_instance(first: Breakers, second: Breakers, clock: Clock) -> None:
    # Given: the first instance holds the probe
    _open(second)
    _half_open(clock, first, second)
    assert first.admits("ses") is True
    # When
    closed = first.record_success("ses")
    second.refresh()
    # Then
    assert closed is True
    assert (first.phase("ses"), second.phase("ses")) == (Phase.CLOSED, Phase.CLOSED)
    assert second.admits("ses") is True


def test_the_probes_failure_opens_it_again_for_a_new_cooldown(first: Breakers, second: Breakers, clock: Clock) -> None:
    # Given
    _open(first)
    _half_open(clock, first, second)
    assert first.admits("ses") is True
    # When
    reopened = first.record_failure("ses")
    second.refresh()
    # Then
    assert reopened is True
    assert second.phase("ses") is Phase.OPEN
    assert second.seconds_until_probe() is None  # smtp is still closed
    clock.now += POLICY.cooldown_seconds
    second.refresh()
    assert second.admits("ses") is True


def test_a_probe_that_never_reports_lets_another_instance_probe_once_its_claim_runs_out(
    first: Breakers, second: Breakers, clock: Clock
) -> None:
    # Given: the first instance took the probe, then died
    _open(first)
    _half_open(clock, first, second)
    assert first.admits("ses") is True
    assert second.admits("ses") is False
    # When
    clock.now += POLICY.cooldown_seconds
    second.refresh()
    # Then
    assert second.admits("ses") is True


def test_a_success_that_is_not_a_probe_leaves_an_open_breaker_open(first: Breakers, second: Breakers) -> None:
    # Given: a send that was under way when another instance opened the breaker
    _open(first)
    second.refresh()
    # When
    closed = second.record_success("ses")
    first.refresh()
    # Then
    assert closed is False
    assert first.phase("ses") is Phase.OPEN


def test_with_every_provider_open_it_says_when_the_first_may_be_probed(first: Breakers, clock: Clock) -> None:
    # Given
    _open(first, "ses")
    clock.now += 10
    _open(first, "smtp")
    # When
    clock.now += 5
    # Then: ses cooled down 15 s from now
    assert first.seconds_until_probe() == POLICY.cooldown_seconds - 15
    clock.now += 60
    assert first.seconds_until_probe() == 0


def test_the_healthy_path_costs_one_read_per_refresh_and_nothing_per_send(first: Breakers) -> None:
    # Given
    with recording("dynamodb") as calls:
        # When: a batch of a hundred sends that all succeed
        first.refresh()
        for _ in range(100):
            assert first.admits("ses") is True
            assert first.record_success("ses") is False
    # Then
    assert calls.by_operation() == {"BatchGetItem": 1}
