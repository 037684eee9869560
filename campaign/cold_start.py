"""The Lambda handlers' imports run with Python's cyclic garbage collector paused.

A cold start allocates tens of thousands of objects (modules, classes, functions, botocore's and
FastAPI's tables) that live as long as the container. While they are created, the collector keeps
walking them, dozens of collections and a measurable share of each import (docs/DESIGN.md, "Cold
start"), to find a few hundred objects of garbage. Paused,
the import skips that work; frozen afterwards (`gc.freeze`), those objects are left out of every later
collection too, so the first invocations do not pay the deferred walk instead. The price is that the
few hundred cyclic garbage objects of the import are never freed (tens of kilobytes).

The steps are the ones CPython's documentation gives for `gc.freeze` in a server that forks (disable
early, freeze once the long-lived state is built, enable again); there the aim is memory shared with
the children, here it is the time. docs/DESIGN.md (*Cold start*) has the measurements.
"""

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the collector for the block, then freeze what it built; a collector that was off stays off."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
