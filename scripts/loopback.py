"""What the local stack, the benches and the tests share: the project's root, ports on 127.0.0.1, the
offline AWS settings, a server module of this project run as a child process on a free port, and the
HTTP handler the benches' stand-ins for AWS answer with."""

import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import IO, Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30.0
# The one region the emulator serves; every local and bench resource lives in it.
REGION = "us-east-1"


def offline_aws_env(credential: str) -> dict[str, str]:
    """Credentials no AWS account accepts, so that a process pointed at the emulator or a stand-in can
    never reach a real account by mistake; `credential` names who is calling in the emulator's logs."""
    return {"AWS_ACCESS_KEY_ID": credential, "AWS_SECRET_ACCESS_KEY": credential, "AWS_DEFAULT_REGION": REGION}


def free_ports(count: int) -> list[int]:
    """Distinct ports the kernel reports free on 127.0.0.1 (held open together, so never the same), for
    servers that cannot bind port 0 themselves."""
    probes = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for probe in probes:
            probe.bind(("127.0.0.1", 0))
        return [int(probe.getsockname()[1]) for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def free_port() -> int:
    return free_ports(1)[0]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def serving(module: str, stderr: IO[str] | int = subprocess.DEVNULL) -> Iterator[tuple[str, int]]:
    """`python -m <module> --port <free port>` until the block ends; yields (endpoint, pid) once the
    port accepts connections. Raises if it exits or does not listen within START_SECONDS."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", module, "--port", str(port)], cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=stderr
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


class AwsLikeServer(ThreadingHTTPServer):
    """A stand-in AWS endpoint: a thread per connection (botocore keeps a pool of them open), a deep
    backlog for a fleet connecting at once, and no thread left behind when the process stops."""

    daemon_threads = True
    request_queue_size = 256

    def serve_until_interrupted(self) -> None:
        """Serve until Ctrl-C, then close the listening socket (`serving`'s SIGTERM ends the process outright)."""
        try:
            self.serve_forever(poll_interval=0.2)
        except KeyboardInterrupt:
            pass
        finally:
            self.server_close()


class AwsLikeHandler(BaseHTTPRequestHandler):
    """A stand-in AWS endpoint's request handler: silent, and answering JSON as AWS does."""

    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's pooled connections expect
    # Headers and body go out in two writes: without TCP_NODELAY the client's delayed ACK holds the
    # second back ~40 ms on loopback, which would be counted as the stand-in's latency.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def answer(
        self,
        status: int,
        payload: dict[str, Any],
        content_type: str = "application/json",
        error_type: str | None = None,
    ) -> None:
        body = json.dumps(payload, separators=(",", ":")).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        if error_type is not None:
            self.send_header("x-amzn-ErrorType", error_type)
        self.end_headers()
        self.wfile.write(body)
