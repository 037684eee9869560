"""Headless Chromium (Debian's package, /usr/bin/chromium) driven by Playwright, against the live local
stack on free loopback ports (scripts/local_stack.py), one stack per module.

`make test` installs Chromium from the system packages when it is missing (the Makefile's `chromium`
target); Playwright's own browser download is never used. Every test here is marked `slow`, like the
live-HTTP tests.
"""

from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from campaign.aws.table_schema import PARTITION_KEY, suppression_pk
from scripts.local_stack import LiveStack, local_stack
from tests.http.helpers import TABLE_NAME

BROWSER_TEST_API_KEY = "browser-test-key-8d3a61c0f2e94b"
CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium runs headless as root and offline with these; Playwright adds --headless and a new,
# empty --user-data-dir of its own for every launch.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LAUNCH_TIMEOUT_MS = 20_000
STEP_TIMEOUT_MS = 5_000
_HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _HERE in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """A running local stack of its own; its output is in <tmp>/run.log."""
    with local_stack(BROWSER_TEST_API_KEY, tmp_path_factory.mktemp("browser_stack") / "run.log") as running:
        yield running


@pytest.fixture(scope="module")
def api(stack: LiveStack) -> Iterator[httpx.Client]:
    """An authenticated client for the live API (uploads)."""
    with httpx.Client(base_url=stack.base_url, headers={"x-api-key": stack.api_key}, timeout=10.0) as client:
        yield client


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True, timeout=LAUNCH_TIMEOUT_MS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context with JavaScript turned off: what works here works without it."""
    context = browser.new_context(java_script_enabled=False)
    context.set_default_timeout(STEP_TIMEOUT_MS)
    context.set_default_navigation_timeout(STEP_TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


class SuppressionList:
    """Direct reads of the emulated table's suppression items (`SUPP#<address>`)."""

    def __init__(self, endpoint_url: str) -> None:
        self._ddb = boto3.client(
            "dynamodb",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def reason(self, address: str) -> str | None:
        """Why the address is suppressed, or None if it is not."""
        item = self._ddb.get_item(
            TableName=TABLE_NAME, Key={PARTITION_KEY: {"S": suppression_pk(address)}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else str(item["reason"]["S"])


@pytest.fixture(scope="module")
def suppressions(stack: LiveStack) -> SuppressionList:
    return SuppressionList(stack.emulator_url)
