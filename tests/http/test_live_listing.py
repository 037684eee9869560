"""On the live local stack: a client walks an upload's rows while the stack's worker sends them, and
every walk lists each row exactly once."""

import time

import httpx

from tests.http.helpers import COUNTS, batch_id_of, graphql

ROWS = 300
LIST = """query($b: String!, $after: String) {
  listEmailStatus(batchId: $b, first: 50, after: $after) { items { sendId status } nextCursor }
}"""


def _walk(api: httpx.Client, batch_id: str) -> tuple[list[str], set[str]]:
    """Every row of a walk, and the statuses it saw."""
    listed: list[str] = []
    seen: set[str] = set()
    after = None
    while True:
        page = graphql(api, LIST, {"b": batch_id, "after": after})["listEmailStatus"]
        listed += [item["sendId"] for item in page["items"]]
        seen |= {item["status"] for item in page["items"]}
        after = page["nextCursor"]
        if after is None:
            return listed, seen


def test_walks_while_the_worker_sends_list_every_row_once(api: httpx.Client) -> None:
    # Given an upload of 300 rows, which the stack's worker starts sending at once
    content = b"email,subject,content\n" + b"".join(
        f"walk.{i}@example.com,Walk,Body {i}\n".encode() for i in range(ROWS)
    )
    assert api.post("/upload", files={"file": ("walk.csv", content, "text/csv")}).status_code == 201
    batch_id = batch_id_of(content)
    # When a client walks its rows again and again until the worker is done
    walks, statuses = [], set()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        listed, seen = _walk(api, batch_id)
        walks.append(listed)
        statuses |= seen
        counts = graphql(api, COUNTS, {"b": batch_id})["batch"]["counts"]
        if counts["sent"] == ROWS:
            break
    # Then the worker finished, every walk listed each row exactly once, and the walks saw rows move
    assert counts["sent"] == ROWS
    assert walks and all(len(listed) == len(set(listed)) == ROWS for listed in walks)
    assert {"QUEUED", "SENT"} <= statuses
