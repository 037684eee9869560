"""Running a coroutine from a synchronous test without leaving the thread's event loop unset.

`asyncio.run` ends with `set_event_loop(None)`, after which `asyncio.get_event_loop()` raises in the
main thread; Mangum calls exactly that, so a later test driving the Lambda handler would fail.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(coroutine)
    finally:
        loop.close()
