"""SES's mailbox simulator, end to end on the live stack: a CSV of simulator addresses goes through the
API, the worker, the local mailbox (playing SES) and the events queue back to the same event consumer
the deployed worker runs; each send shows what SES would have reported, and hard bounces and
complaints land on the suppression list."""

import secrets
import time
from typing import Any

import httpx
import pytest

from tests.http.helpers import batch_id_of, graphql

SETTLE_WITHIN_SECONDS = 45
LIST = """query($b: String!) { listEmailStatus(batchId: $b) {
  items { email status delivery { outcome bounceType bounceSubType } } } }"""
SUPPRESSIONS = "{ suppressions(first: 200) { items { email reason } } }"
EXPECTED = {
    "success": ("DELIVERED", None),
    "bounce": ("BOUNCED", "Permanent"),
    "complaint": ("COMPLAINED", None),
    "suppressionlist": ("BOUNCED", "Permanent"),
    "ooto": ("DELIVERED", None),
}


@pytest.fixture(scope="module")
def settled(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """The sends of one upload of every simulator address, once each has its outcome, by kind."""
    tag = secrets.token_hex(3)
    rows = "".join(f"{kind}+{tag}@simulator.amazonses.com,Simulated {kind},Body\n" for kind in EXPECTED)
    content = f"email,subject,content\n{rows}".encode()
    assert api.post("/upload", files={"file": ("simulator.csv", content, "text/csv")}).status_code == 201
    deadline = time.monotonic() + SETTLE_WITHIN_SECONDS
    while True:
        items = graphql(api, LIST, {"b": batch_id_of(content)})["listEmailStatus"]["items"]
        by_kind = {item["email"].split("+", 1)[0]: item for item in items}
        done = [kind for kind, item in by_kind.items() if (item["delivery"] or {}).get("outcome") == EXPECTED[kind][0]]
        if len(done) == len(EXPECTED):
            return by_kind
        assert time.monotonic() < deadline, f"not settled in {SETTLE_WITHIN_SECONDS} s: {items}"
        time.sleep(0.5)


@pytest.mark.parametrize("kind", EXPECTED)
def test_each_simulator_address_gets_the_outcome_ses_documents(settled: dict[str, dict[str, Any]], kind: str) -> None:
    # Given an upload of every SES simulator address, each send settled with its outcome
    # When the send for one kind of address is read
    item = settled[kind]
    outcome, bounce_type = EXPECTED[kind]
    # Then it is SENT, with the outcome and bounce type SES documents for that address
    assert item["status"] == "SENT"
    assert (item["delivery"]["outcome"], item["delivery"]["bounceType"]) == (outcome, bounce_type)


def test_hard_bounces_and_complaints_are_suppressed_and_deliveries_are_not(
    api: httpx.Client, settled: dict[str, dict[str, Any]]
) -> None:
    # Given an upload of every SES simulator address, each send settled with its outcome
    # When the suppression list is read
    listed = graphql(api, SUPPRESSIONS)["suppressions"]["items"]
    reasons = {
        item["email"].split("+", 1)[0]: item["reason"]
        for item in listed
        if item["email"] in {i["email"].lower() for i in settled.values()}
    }
    # Then the hard bounces (bounce, suppressionlist) and the complaint are on it, with their reasons, and the
    # deliveries are not
    assert reasons == {"bounce": "HARD_BOUNCE", "complaint": "COMPLAINT", "suppressionlist": "HARD_BOUNCE"}
