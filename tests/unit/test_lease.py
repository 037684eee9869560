"""An ingest's lease is renewed as the ingest progresses, never more often than it needs, and a lease
another ingest took over stops the one that lost it."""

from datetime import UTC, datetime, timedelta

import pytest

from campaign.domain.clock import to_iso
from campaign.limits import INGEST_LEASE_SECONDS
from campaign.services.lease import Lease, LeaseLostError, lease_until_from

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class FakeBatches:
    """The batch record's lease, as the conditional renewal sees it."""

    def __init__(self, held: str) -> None:
        self.lease_until = held
        self.renewals = 0

    def renew(self, batch_id: str, held: str, lease_until: str) -> bool:
        del batch_id
        if held != self.lease_until:
            return False
        self.lease_until = lease_until
        self.renewals += 1
        return True


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def _lease(batches: FakeBatches, clock: Clock) -> Lease:
    return Lease(batches, "b" * 32, batches.lease_until, now=clock)  # type: ignore[arg-type]


def test_a_lease_is_not_renewed_before_a_third_of_it_has_passed() -> None:
    # Given a lease just taken
    batches, clock = FakeBatches(lease_until_from(START)), Clock()
    lease = _lease(batches, clock)
    # When the ingest keeps it a second before a third of its length has passed
    clock.now = START + timedelta(seconds=INGEST_LEASE_SECONDS / 3 - 1)
    lease.keep()
    # Then the lease is not renewed
    assert batches.renewals == 0


def test_a_long_ingest_renews_its_lease_so_that_it_never_lapses() -> None:
    # Given a lease just taken
    batches, clock = FakeBatches(lease_until_from(START)), Clock()
    lease = _lease(batches, clock)
    # When a 109 s ingest (as a 50,000-row upload took locally) keeps its lease after each 5 s step
    # Then the lease held has not lapsed at any step, it was renewed about once a third of its length,
    # and the ingest knows the lease it holds
    for second in range(0, 110, 5):
        clock.now = START + timedelta(seconds=second)
        assert to_iso(clock.now) < batches.lease_until, f"lapsed at {second} s"
        lease.keep()
    assert batches.renewals >= 109 // (INGEST_LEASE_SECONDS // 3) - 1
    assert lease.held_until == batches.lease_until


def test_a_lease_taken_over_by_another_ingest_stops_this_one() -> None:
    # Given a lease that another ingest, presuming this one dead, took over
    batches, clock = FakeBatches(lease_until_from(START)), Clock()
    lease = _lease(batches, clock)
    batches.lease_until = to_iso(START + timedelta(hours=1))
    # When this ingest next keeps its lease
    clock.now = START + timedelta(seconds=INGEST_LEASE_SECONDS)
    # Then it is stopped: the lease is lost
    with pytest.raises(LeaseLostError):
        lease.keep()
