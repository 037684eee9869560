"""A server module of this project run as a child process on a free loopback port, for the benches:
the emulator, the AWS stand-in and the simulated SES are started, waited for and stopped the same way."""

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def serving(module: str, stderr: IO[str] | int = subprocess.DEVNULL) -> Iterator[tuple[str, int]]:
    """`python -m <module> --port <free port>` until the block ends; yields (endpoint, pid) once the
    port accepts connections. Raises if it exits or does not listen within START_SECONDS."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr
    )
    try:
        deadline = time.monotonic() + START_SECONDS
        while not listening(port):
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"{module} did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(timeout=10)
