"""`make run`: the emulator, the resources, the API on :8000, the mailbox on :8025 and a worker that
drains the queue (SEND_MODE=smtp unless set: every message lands in the mailbox).

Ctrl-C stops everything this started.
"""

import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from campaign.aws.clients import clear_client_cache
from campaign.config import DEFAULT_SMTP_PORT, DRY_RUN, Provider, clear_settings_cache
from scripts.local.emulator import outage_file
from scripts.local.mailbox import DEFAULT_HTTP_PORT
from scripts.local.provision import LocalResources, environment_of, events_queue_names, provision
from scripts.local.sqs_poller import poll_once
from scripts.local.stream_ingest_runner import watch_uploads
from scripts.local.stream_poller import StreamPoller
from scripts.loopback import listening, offline_aws_env

API_HOST = "127.0.0.1"
API_PORT = int(os.environ.get("API_PORT", "8000"))
EMULATOR_PORT = int(os.environ.get("EMULATOR_PORT", "4566"))
MAILBOX_PORT = int(os.environ.get("MAILBOX_PORT", str(DEFAULT_HTTP_PORT)))
MAILBOX_SMTP_PORT = int(os.environ.get("MAILBOX_SMTP_PORT", str(DEFAULT_SMTP_PORT)))
MAILBOX_URL = f"http://127.0.0.1:{MAILBOX_PORT}"
_SEND_MODES: dict[str, str] = {
    Provider.SMTP.value: "each message goes to the mailbox, the bytes SES would get",
    DRY_RUN: "rows become SENT, nothing is sent: the mailbox stays empty",
    Provider.SES.value: "through the emulator's SES, which accepts it and shows it nowhere",
    f"{Provider.SES},{Provider.SMTP}": (
        "the emulator's SES first, the mailbox when SES fails: `make ses-outage`, then `make ses-recover`"
    ),
}
# Lambda polls a stream about four times a second when it is idle.
_STREAM_IDLE_SECONDS = 0.25


def _wait_for(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {seconds:.0f} s")


def _base_environment() -> dict[str, str]:
    return {
        **offline_aws_env("local"),
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{EMULATOR_PORT}",
        "STAGE": "local",
        "SEND_MODE": os.environ.get("SEND_MODE", Provider.SMTP.value),
        # Read in smtp mode only: the mailbox this starts.
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(MAILBOX_SMTP_PORT),
        "POWERTOOLS_SERVICE_NAME": "campaign-local",
        # Terraform sets both on the Lambdas; without a namespace every metric flush raises (a 500 on upload).
        "POWERTOOLS_METRICS_NAMESPACE": "CampaignLocal",
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    }


@contextmanager
def _child(args: list[str], env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(args, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


def _banner(api_key: str, send_mode: str) -> str:
    base = f"http://{API_HOST}:{API_PORT}"
    mode = _SEND_MODES.get(send_mode, "unknown: the worker refuses it")
    return "\n".join(
        [
            "",
            f"  API        {base}   (Swagger: {base}/docs, GraphiQL: {base}/graphql)",
            f"  emulator   http://127.0.0.1:{EMULATOR_PORT}   (moto; state is lost on exit)",
            f"  mailbox    {MAILBOX_URL}   (every message sent; JSON: /api/messages; SMTP on :{MAILBOX_SMTP_PORT})",
            f"  send mode  {send_mode}   ({mode}; set SEND_MODE=smtp, dry-run, ses or ses,smtp)",
            f"  API key    {api_key}   (set API_KEY to choose it; Swagger: Authorize, GraphiQL: Headers)",
            "",
            "  Try:",
            f"    curl -s -F file=@example_csv/campaign.csv -H 'x-api-key: {api_key}' {base}/upload",
            f"    API_KEY={api_key} scripts/demo.sh {base}",
            f"    API_KEY={api_key} .venv/bin/python scripts/upload_large.py example_csv/campaign.csv --api {base}",
            "",
            "  The worker is polling the send queue, the streaming ingest is watching the upload bucket",
            "  and the stream consumer keeps batch counts. Ctrl-C stops everything.",
            "",
        ]
    )


def _stop_on_sigterm() -> None:
    """`kill`, `timeout` and process supervisors send SIGTERM, whose default would end this process
    without stopping the emulator and API it started; as KeyboardInterrupt, it takes the Ctrl-C path."""

    def interrupt(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main() -> None:
    _stop_on_sigterm()
    for port in (API_PORT, EMULATOR_PORT, MAILBOX_PORT, MAILBOX_SMTP_PORT):
        if listening(port):
            raise SystemExit(f"port {port} is already in use on 127.0.0.1 (another `make run`?)")
    outage_file().unlink(missing_ok=True)  # an outage left by an earlier run would surprise this one
    env = {**os.environ, **_base_environment()}
    api_key = env.get("API_KEY") or secrets.token_urlsafe(24)
    env["API_KEY"] = api_key
    os.environ.update(env)
    events_queue, _ = events_queue_names("local")
    mailbox = [sys.executable, "-m", "scripts.local.mailbox", "--port", str(MAILBOX_PORT)]
    mailbox += ["--ses-events-queue", events_queue]
    with (
        _child([sys.executable, "-m", "scripts.local.emulator", "--port", str(EMULATOR_PORT)], env),
        _child([*mailbox, "--smtp-port", str(MAILBOX_SMTP_PORT)], env),
    ):
        _wait_for(f"http://127.0.0.1:{EMULATOR_PORT}/moto-api/data.json")
        _wait_for(f"{MAILBOX_URL}/api/messages")
        clear_client_cache()
        resources = provision("local")
        env |= environment_of(resources, api_base_url=f"http://{API_HOST}:{API_PORT}")
        os.environ.update(env)
        clear_settings_cache()
        api = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory", "--host", API_HOST]
        with _child([*api, "--port", str(API_PORT), "--log-level", "warning"], env):
            _wait_for(f"http://{API_HOST}:{API_PORT}/health")
            print(_banner(api_key, env["SEND_MODE"]), flush=True)
            _run_worker(resources)


def _count_changes(table_name: str) -> None:
    """The stream consumer's event source mapping: read the table's stream, hand send rows over."""
    from worker.count_changes import handler  # imported after the environment is set, as Lambda would

    poller = StreamPoller(table_name)
    while True:
        if poller.poll_once(handler) == 0:
            time.sleep(_STREAM_IDLE_SECONDS)


def _delivery_events(resources: LocalResources) -> None:
    """The worker's second event source mapping: SES's events (here, the mailbox's simulator)."""
    from worker.handler import handler

    while True:
        poll_once(resources.events_queue_url, resources.events_queue_arn, handler, wait_seconds=1)


# Set once Ctrl-C arrives: the emulator is about to go, and a background poller's failed request is
# then the shutdown, not an error worth a traceback.
_stopping = threading.Event()


def _background(name: str, poll: Callable[..., None], *args: object) -> None:
    def run() -> None:
        try:
            poll(*args)
        except Exception:
            if not _stopping.is_set():
                raise

    threading.Thread(target=run, name=name, daemon=True).start()


def _run_worker(resources: LocalResources) -> None:
    from worker.handler import handler  # imported after the environment is set, as Lambda would

    _background("stream-ingest", watch_uploads, resources.upload_bucket)
    _background("counts", _count_changes, resources.table_name)
    _background("delivery-events", _delivery_events, resources)
    try:
        while True:
            poll_once(resources.queue_url, resources.queue_arn, handler, wait_seconds=1)
    except KeyboardInterrupt:
        _stopping.set()
        print("\nstopping…", flush=True)


if __name__ == "__main__":
    # Stopped while starting up: the children are already stopped, no traceback needed.
    with contextlib.suppress(KeyboardInterrupt):
        main()
