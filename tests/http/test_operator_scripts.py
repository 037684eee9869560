"""The operator scripts run as docs/operations.md ("Re-drives") shows them: `python scripts/redrive_pending.py
<batchId>` and `python scripts/redrive_dlq.py`, as child processes whose environment is only what the
page lists (TABLE_NAME, QUEUE_URL, DLQ_URL and the local AWS variables; nothing of the API's, no
API_KEY or UPLOAD_BUCKET), against the live stack's emulator.

Each test provisions its own table and queues on that emulator (a stage of its own), so the stack's
worker, which drains the `local` queue, never takes the messages a script puts on the queue.
"""

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from campaign.aws.clients import clear_client_cache, client
from campaign.aws.send_queue import SendJob
from campaign.aws.send_rows import Claimed, SendRows
from campaign.domain.clock import now_iso
from campaign.domain.models import SendRow
from campaign.domain.status import EmailStatus, ErrorKind
from scripts.local.provision import LocalResources, provision
from scripts.local.stack import LiveStack
from scripts.loopback import PROJECT_ROOT
from tests.support.seed import seed_batch

SCRIPT_TIMEOUT_SECONDS = 60
# The scripts enqueue with the default delay (ENQUEUE_DELAY_SECONDS is not among the documented variables).
MESSAGES_VISIBLE_WITHIN_SECONDS = 15
# What a shell passes on besides the documented variables; everything else is left out.
BASICS = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
QUEUE_COUNTERS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)


@pytest.fixture
def resources(stack: LiveStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[LocalResources]:
    """A table and queues of their own on the live emulator; this process's clients point at it."""
    for name, value in _local_aws(stack).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    clear_client_cache()
    stage = f"ops-{uuid.uuid4().hex[:12]}"
    yield provision(stage, sender_address=f"{stage}@example.com")
    clear_client_cache()


def _local_aws(stack: LiveStack) -> dict[str, str]:
    """docs/operations.md: 'Against `make run`, add AWS_ENDPOINT_URL=… AWS_ACCESS_KEY_ID=local …' (here, the
    emulator's port is a free one rather than 4566)."""
    return {
        "AWS_ENDPOINT_URL": stack.emulator_url,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": "us-east-1",
    }


def _documented_env(stack: LiveStack, resources: LocalResources, *, dlq: bool = False) -> dict[str, str]:
    env = {name: os.environ[name] for name in BASICS if name in os.environ}
    env |= _local_aws(stack)
    env |= {"TABLE_NAME": resources.table_name, "QUEUE_URL": resources.queue_url}
    if dlq:
        env["DLQ_URL"] = resources.dlq_url
    return env


def _run(script: str, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, f"scripts/{script}", *args],
        cwd=PROJECT_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=SCRIPT_TIMEOUT_SECONDS,
        check=False,
    )


def _bodies_on(queue_url: str, expected: int) -> list[dict[str, Any]]:
    """The bodies of the messages on a queue, once `expected` of them are visible (delayed ones
    become visible after the enqueue delay), or what is there when the wait is over."""
    sqs = client("sqs")
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + MESSAGES_VISIBLE_WITHIN_SECONDS
    while len(bodies) < expected and time.monotonic() < deadline:
        response = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        bodies += [json.loads(message["Body"]) for message in response.get("Messages", [])]
    return bodies


def _counters(queue_url: str) -> dict[str, str]:
    attributes: dict[str, str] = client("sqs").get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=list(QUEUE_COUNTERS)
    )["Attributes"]
    return attributes


def _empty() -> dict[str, str]:
    return dict.fromkeys(QUEUE_COUNTERS, "0")


def _finished_dead_letter(resources: LocalResources, status: EmailStatus, kind: ErrorKind | None) -> SendRow:
    """A row that a worker claimed and finished with `status` (and `kind`), its message in the DLQ."""
    (queued,) = seed_batch(resources.table_name, f"dead-{status.value}", now_iso(), [EmailStatus.QUEUED])
    rows = SendRows(resources.table_name)
    claim = rows.claim(queued.send_id, now_iso())
    assert isinstance(claim, Claimed)
    error = "gave up after 5 attempts: Throttling" if status is EmailStatus.ERROR else None
    assert rows.finish(claim.row, now_iso(), status, error=error, error_kind=kind)
    body = SendJob(queued.send_id, queued.batch_id).to_body()
    client("sqs").send_message(QueueUrl=resources.dlq_url, MessageBody=body)
    finished = rows.get(queued.send_id)
    assert finished is not None and finished.status is status
    return finished


def test_redrive_pending_as_documented_queues_the_batch_pending_rows(
    stack: LiveStack, resources: LocalResources
) -> None:
    # Given a batch with two PENDING rows and a SENT one in a table of the test's own
    pending = EmailStatus.PENDING
    seeded = seed_batch(resources.table_name, "left-pending", now_iso(), [pending, EmailStatus.SENT, pending])
    batch_id = seeded[0].batch_id
    was_pending = [row.send_id for row in seeded if row.status is pending]

    # When redrive_pending.py runs with the batch id and only the documented environment
    done = _run("redrive_pending.py", batch_id, env=_documented_env(stack, resources))

    # Then it exits 0 reporting two requeued; the PENDING rows are QUEUED, the SENT one untouched, and a message for
    # each requeued row is on the queue
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "requeued 2, still pending 0"
    rows = SendRows(resources.table_name)
    statuses = {row.send_id: found.status for row in seeded if (found := rows.get(row.send_id)) is not None}
    assert statuses == {
        seeded[0].send_id: EmailStatus.QUEUED,
        seeded[1].send_id: EmailStatus.SENT,
        seeded[2].send_id: EmailStatus.QUEUED,
    }
    bodies = _bodies_on(resources.queue_url, expected=2)
    assert sorted(bodies, key=lambda b: b["sendId"]) == sorted(
        ({"sendId": send_id, "batchId": batch_id} for send_id in was_pending), key=lambda b: b["sendId"]
    )


def test_redrive_dlq_as_documented_resends_a_row_that_gave_up_as_a_new_row(
    stack: LiveStack, resources: LocalResources
) -> None:
    # Given a row that gave up after its retries (ERROR), its message in the DLQ
    gave_up = _finished_dead_letter(resources, EmailStatus.ERROR, ErrorKind.RETRIES_EXHAUSTED)

    # When redrive_dlq.py runs with only the documented environment
    done = _run("redrive_dlq.py", env=_documented_env(stack, resources, dlq=True))

    # Then it exits 0 reporting one requeued; the old row stays ERROR and names a new QUEUED row for the same batch and
    # recipient, whose message is on the queue; the DLQ is empty
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "requeued 1, dropped (already final) 0, left in the DLQ for a person 0"
    rows = SendRows(resources.table_name)
    old = rows.get(gave_up.send_id)
    assert old is not None and old.status is EmailStatus.ERROR and old.resent_as is not None
    new = rows.get(old.resent_as)
    assert new is not None
    assert (new.resend_of, new.batch_id, new.email, new.status) == (
        gave_up.send_id,
        gave_up.batch_id,
        gave_up.email,
        EmailStatus.QUEUED,
    )
    assert _bodies_on(resources.queue_url, expected=1) == [{"sendId": new.send_id, "batchId": new.batch_id}]
    assert _counters(resources.dlq_url) == _empty()


def test_redrive_dlq_as_documented_drops_the_dead_letter_of_a_sent_row(
    stack: LiveStack, resources: LocalResources
) -> None:
    # Given a SENT row whose message is in the DLQ
    sent = _finished_dead_letter(resources, EmailStatus.SENT, None)

    # When redrive_dlq.py runs with only the documented environment
    done = _run("redrive_dlq.py", env=_documented_env(stack, resources, dlq=True))

    # Then it exits 0 reporting one dropped as already final; the row is unchanged, and both queues are empty
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "requeued 0, dropped (already final) 1, left in the DLQ for a person 0"
    assert SendRows(resources.table_name).get(sent.send_id) == sent
    assert _counters(resources.dlq_url) == _empty()
    assert _counters(resources.queue_url) == _empty()


@pytest.mark.parametrize("missing", ["TABLE_NAME", "QUEUE_URL"])
def test_redrive_pending_without_a_required_variable_exits_naming_it(
    stack: LiveStack, resources: LocalResources, missing: str
) -> None:
    # Given the documented environment without one of the variables redrive_pending.py needs
    env = _documented_env(stack, resources)
    del env[missing]

    # When the script runs
    done = _run("redrive_pending.py", "0" * 32, env=env)

    # Then it fails, naming the missing variable on stderr without a traceback, and prints nothing on stdout
    assert done.returncode != 0
    assert missing in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("missing", ["TABLE_NAME", "QUEUE_URL", "DLQ_URL"])
def test_redrive_dlq_without_a_required_variable_exits_naming_it(
    stack: LiveStack, resources: LocalResources, missing: str
) -> None:
    # Given the documented environment without one of the variables redrive_dlq.py needs
    env = _documented_env(stack, resources, dlq=True)
    del env[missing]

    # When the script runs
    done = _run("redrive_dlq.py", env=env)

    # Then it fails, naming the missing variable on stderr without a traceback, and prints nothing on stdout
    assert done.returncode != 0
    assert missing in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize("batch_id", ["not-a-batch", "0" * 31, "0" * 33, "g" * 32, "A" * 32])
def test_redrive_pending_refuses_a_malformed_batch_id(
    stack: LiveStack, resources: LocalResources, batch_id: str
) -> None:
    # Given the documented environment
    # When redrive_pending.py runs with a batch id that is not 32 lowercase hex characters
    done = _run("redrive_pending.py", batch_id, env=_documented_env(stack, resources))

    # Then it fails, saying the argument is not a batch id, without a traceback, and prints nothing on stdout
    assert done.returncode != 0
    assert "is not a batch id" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
