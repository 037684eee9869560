"""The local stack (`python -m scripts.local.run`) as a child process on free loopback ports.

Used by tests/http (a session fixture) and scripts/load_test.py (`make load`). The stack runs in its
own process group; leaving the context sends that group Ctrl-C, then SIGKILL to whatever is left, so
neither the emulator, the mailbox nor uvicorn outlives the caller — also when the caller gets SIGTERM
(a CI timeout), which is turned into KeyboardInterrupt while the stack runs. It sends as `make run`
does (SEND_MODE=smtp): every message lands in its mailbox (`LiveStack.mailbox_url`).
"""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from types import FrameType
from typing import NamedTuple

import httpx

from scripts.loopback import PROJECT_ROOT, free_ports

STARTUP_TIMEOUT_SECONDS = 60.0
STOP_TIMEOUT_SECONDS = 15.0

# What the stack must not inherit: tests/conftest.py sets Powertools and AWS variables for the
# in-process moto tests, and a user's shell running `make run` has none of them.
NOT_INHERITED = (
    "POWERTOOLS_METRICS_NAMESPACE",
    "POWERTOOLS_SERVICE_NAME",
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "TABLE_NAME",
    "QUEUE_URL",
    "DLQ_URL",
    "SENDER_ADDRESS",
    "ENQUEUE_DELAY_SECONDS",
    "SEND_MODE",
    "SMTP_HOST",
    "SMTP_PORT",
    "SEND_RATE_PER_SECOND",
)


class LiveStack(NamedTuple):
    base_url: str
    api_key: str
    emulator_url: str
    # The local mailbox (scripts/local/mailbox.py): what the worker sent, SEND_MODE=smtp being the default.
    mailbox_url: str


def _wait_for_health(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the local stack exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        with suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        time.sleep(0.25)
    raise RuntimeError(
        f"{url} did not answer within {STARTUP_TIMEOUT_SECONDS:.0f} s:\n{log.read_text(errors='replace')}"
    )


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C for the stack's process group (run.py, uvicorn, moto), then SIGKILL for what is left."""
    _signal_group(process.pid, signal.SIGINT)
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        _signal_group(process.pid, signal.SIGKILL)
        process.wait(timeout=5)
    # run.py waits for its children, but a child that ignored Ctrl-C must not outlive the caller.
    time.sleep(0.2)
    _signal_group(process.pid, signal.SIGKILL)


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def local_stack(api_key: str, log: Path, env_overrides: dict[str, str] | None = None) -> Iterator[LiveStack]:
    """A running `python -m scripts.local.run` with this API key (and these variables set, e.g.
    SEND_MODE), its output in `log`."""
    api_port, emulator_port, mailbox_port, mailbox_smtp_port = free_ports(4)
    env = {name: value for name, value in os.environ.items() if name not in NOT_INHERITED}
    env |= {
        "API_PORT": str(api_port),
        "EMULATOR_PORT": str(emulator_port),
        "MAILBOX_PORT": str(mailbox_port),
        "MAILBOX_SMTP_PORT": str(mailbox_smtp_port),
        "API_KEY": api_key,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",
    } | (env_overrides or {})
    with _sigterm_interrupts(), log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "scripts.local.run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, as a terminal's Ctrl-C would reach
        )
        try:
            base_url = f"http://127.0.0.1:{api_port}"
            _wait_for_health(process, f"{base_url}/health", log)
            yield LiveStack(base_url, api_key, f"http://127.0.0.1:{emulator_port}", f"http://127.0.0.1:{mailbox_port}")
        finally:
            _stop(process)
