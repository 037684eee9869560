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
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_what_the_block_built_is_frozen_out_of_later_collections() -> None:
    gc.unfreeze()
    with collector_paused():
        built: list[list[int]] = [[] for _ in range(1_000)]
    assert gc.get_freeze_count() >= len(built)


def test_the_collector_is_on_again_when_the_block_raises() -> None:
    gc.enable()
    with pytest.raises(ImportError), collector_paused():
        raise ImportError("a handler's dependency is missing")
    assert gc.isenabled()
