"""campaign/cold_start.py: the handlers' imports run with the garbage collector paused, then frozen."""

import gc
from collections.abc import Iterator

import pytest

from campaign.cold_start import collector_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    """Each test leaves the collector as it found it, with nothing frozen."""
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_off_inside_the_block_and_on_after_it() -> None:
    # Given the collector on
    gc.enable()
    # When the block runs, then the collector is off inside it and on again after it
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    # Given the collector off
    gc.disable()
    # When the block runs
    with collector_paused():
        pass
    # Then the collector is still off after it
    assert not gc.isenabled()


def test_what_the_block_built_is_frozen_out_of_later_collections() -> None:
    # Given nothing frozen
    gc.unfreeze()
    # When the block builds objects
    with collector_paused():
        built: list[list[int]] = [[] for _ in range(1_000)]
    # Then they are frozen: later collections do not walk them
    assert gc.get_freeze_count() >= len(built)


def test_the_collector_is_on_again_when_the_block_raises() -> None:
    # Given the collector on
    gc.enable()
    # When the block raises, as an import that fails does
    with pytest.raises(ImportError), collector_paused():
        raise ImportError("a handler's dependency is missing")
    # Then the collector is on again
    assert gc.isenabled()
