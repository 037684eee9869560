"""Headless Chromium (Debian's package, /usr/bin/chromium) driven by Playwright, against the live local
stack that tests/http/conftest.py starts.

`make test` installs Chromium from the system packages when it is missing (the Makefile's `chromium`
target); Playwright's own browser download is never used.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.http.helpers import Emulator

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


@pytest.fixture(scope="module")
def suppressions(emulator: Emulator) -> Emulator:
    """The emulated table, read directly: whether an address is suppressed and why."""
    return emulator
