"""What a Lambda container builds once (settings, clients, gateways), registered where it is built.

A container keeps these for its lifetime. Tests and benches change the environment between cases, so
they need what a new container would have: `clear_all()` forgets every cache registered so far. A
module registers its caches when it is imported, before it can fill them, so nothing needs listing.
"""

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from functools import _lru_cache_wrapper

T = TypeVar("T")

_clearers: list[Callable[[], None]] = []


def per_container(factory: Callable[..., T]) -> "_lru_cache_wrapper[T]":
    """`functools.cache`, registered so that `clear_all()` clears it."""
    cached = cache(factory)
    register(cached.cache_clear)
    return cached


def register(clear: Callable[[], None]) -> None:
    """A clearer of its own, for a cache that must release what it built (a thread pool) before it forgets it."""
    _clearers.append(clear)


def clear_all() -> None:
    for clear in _clearers:
        clear()
