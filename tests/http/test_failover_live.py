"""`SEND_MODE=ses,smtp make run` with the emulated SES taken down (`make ses-outage`) and brought back
(`make ses-recover`): sends move to the SMTP provider (the local mailbox) while SES is down and come
back to SES once its circuit breaker's cooldown is over. A stack of its own, for its own send mode."""

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from campaign.limits import BREAKER_COOLDOWN_SECONDS
from scripts.local.emulator import ENV_LOCAL_SES_OUTAGE_FILE
from scripts.local.stack import LiveStack, local_stack
from tests.http.helpers import graphql

API_KEY = "failover-test-key-0b6e1c"
SENT_WITHIN_SECONDS = 30
ROWS = """query($b: String!) {
  listEmailStatus(batchId: $b, first: 50) { items { email status provider } }
}"""


class Failover:
    def __init__(self, stack: LiveStack, outage: Path, api: httpx.Client) -> None:
        self.stack, self.outage, self.api = stack, outage, api


@pytest.fixture(scope="module")
def failover(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Failover]:
    folder = tmp_path_factory.mktemp("failover_stack")
    outage = folder / "ses-outage"
    env = {"SEND_MODE": "ses,smtp", ENV_LOCAL_SES_OUTAGE_FILE: str(outage)}
    with (
        local_stack(API_KEY, folder / "run.log", env) as stack,
        httpx.Client(base_url=stack.base_url, headers={"x-api-key": API_KEY}, timeout=60.0) as api,
    ):
        yield Failover(stack, outage, api)


def _send(failover: Failover, rows: int) -> list[dict[str, Any]]:
    """Upload `rows` new rows and wait until all are SENT; returns them."""
    tag = secrets.token_hex(4)
    content = "email,subject,content\n" + "".join(f"f{i}.{tag}@example.com,Hi,Hello\n" for i in range(rows))
    response = failover.api.post("/upload", files={"file": ("f.csv", content.encode(), "text/csv")})
    assert response.status_code == 201, response.text
    batch_id = response.json()["batchId"]
    deadline = time.monotonic() + SENT_WITHIN_SECONDS
    while True:
        items: list[dict[str, Any]] = graphql(failover.api, ROWS, {"b": batch_id})["listEmailStatus"]["items"]
        if ({item["status"] for item in items} == {"SENT"} and len(items) == rows) or time.monotonic() > deadline:
            return items
        time.sleep(0.5)


def _in_mailbox(failover: Failover) -> list[str]:
    listed = httpx.get(f"{failover.stack.mailbox_url}/api/messages", timeout=10.0).json()
    return [message["recipients"][0] for message in listed]


def test_sends_fail_over_to_the_mailbox_while_ses_is_down_and_return_after_the_cooldown(
    failover: Failover,
) -> None:
    # Given the stack sending through SES (which shows nothing in the mailbox)
    assert {row["provider"] for row in _send(failover, 2)} == {"ses"}
    assert _in_mailbox(failover) == []
    # When SES goes down, rows are sent
    failover.outage.touch()
    down = _send(failover, 6)
    # Then every row was sent once, through the mailbox
    assert [(row["status"], row["provider"]) for row in down] == [("SENT", "smtp")] * 6
    assert sorted(_in_mailbox(failover)) == sorted(row["email"] for row in down)
    # When SES comes back, new rows go to the mailbox until the breaker's cooldown is over, then to SES
    failover.outage.unlink()
    deadline = time.monotonic() + BREAKER_COOLDOWN_SECONDS + SENT_WITHIN_SECONDS
    providers: list[str] = []
    while "ses" not in providers and time.monotonic() < deadline:
        providers = [row["provider"] for row in _send(failover, 1)]
        time.sleep(2)
    assert providers == ["ses"]
