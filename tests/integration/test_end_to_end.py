"""Upload → messages on the queue → worker → GraphQL shows SENT."""

from typing import Any

from fastapi.testclient import TestClient

from app.main import create_app
from tests.support import TEST_API_KEY

CSV = b"email,subject,content\nada@example.com,Hello,Hi Ada\nbob@example.com,Hello,Hi Bob\nnot-an-email,Hello,x\n"

QUERY = """
query($batch: String) { listEmailStatus(batchId: $batch) { items { email status providerMessageId } nextCursor } }
"""


def test_uploaded_rows_reach_sent(stack: Any, drain: Any) -> None:
    # Given a running API
    client = TestClient(create_app(), headers={"x-api-key": TEST_API_KEY})
    # When a CSV is uploaded and the worker drains the queue
    upload = client.post("/upload", files={"file": ("c.csv", CSV, "text/csv")})
    drain()
    # Then every accepted row is SENT
    assert upload.status_code == 201, upload.text
    body = upload.json()
    assert (body["total"], body["enqueued"], body["skipped"]) == (3, 2, 1)
    listed = client.post("/graphql", json={"query": QUERY, "variables": {"batch": body["batchId"]}}).json()
    statuses = sorted((i["email"], i["status"]) for i in listed["data"]["listEmailStatus"]["items"])
    assert statuses == [("ada@example.com", "SENT"), ("bob@example.com", "SENT")]
