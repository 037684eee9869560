"""The live local stack (`python -m scripts.local.run`) on free loopback ports, shared by the session.

The first test that asks for it starts it (nothing to run by hand; scripts/local/stack.py) and the
session's end stops its whole process group. Every test here talks to it over real HTTP, so each is
marked `slow`.
"""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scripts.local.stack import LiveStack, local_stack
from tests.http.helpers import Emulator

HTTP_TEST_API_KEY = "http-test-key-5f0c9d2e41a7b8"
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """(base_url, api_key, emulator_url, mailbox_url) of a running local stack; its output is in <tmp>/run.log."""
    with local_stack(HTTP_TEST_API_KEY, tmp_path_factory.mktemp("live_stack") / "run.log") as running:
        yield running


@pytest.fixture(scope="session")
def api(stack: LiveStack) -> Iterator[httpx.Client]:
    """An authenticated client for the live API."""
    with httpx.Client(base_url=stack.base_url, headers={"x-api-key": stack.api_key}, timeout=60.0) as client:
        yield client


@pytest.fixture(scope="session")
def emulator(stack: LiveStack) -> Emulator:
    return Emulator(stack.emulator_url)
