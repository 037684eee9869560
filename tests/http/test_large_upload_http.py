"""The large-upload path over real HTTP against `make run`: reserve, PUT to the pre-signed URL on
the emulated S3, and follow GET /uploads/{id} until the streaming ingest is done."""

import hashlib
import time
from typing import Any

import httpx

from tests.http.helpers import batch_id_of

DONE_WITHIN_SECONDS = 30


def _campaign(count: int, tag: str) -> bytes:
    rows = "".join(f"large.{tag}.{i}@example.com,Hello {i},Body {i}\n" for i in range(count))
    return ("email,subject,content\n" + rows + "not-an-address,Hi,Body\n").encode()


def _reserve(api: httpx.Client, content: bytes) -> httpx.Response:
    return api.post("/uploads", json={"sha256": hashlib.sha256(content).hexdigest(), "size": len(content)})


def _follow(api: httpx.Client, upload_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + DONE_WITHIN_SECONDS
    while time.monotonic() < deadline:
        status: dict[str, Any] = api.get(f"/uploads/{upload_id}").json()
        if status["state"] in ("DONE", "FAILED"):
            return status
        time.sleep(0.3)
    raise AssertionError(f"upload {upload_id} did not finish within {DONE_WITHIN_SECONDS} s")


def test_a_file_put_to_the_presigned_url_is_ingested_with_the_direct_paths_summary(api: httpx.Client) -> None:
    # Given a reservation for a file of 40 good rows and a bad one
    content = _campaign(40, "presigned")
    ticket = _reserve(api, content).json()
    # When the file is PUT to the pre-signed URL and the upload is followed until it ends
    put = httpx.put(ticket["upload"]["url"], content=content, headers=ticket["upload"]["headers"], timeout=30)
    status = _follow(api, ticket["uploadId"])
    # Then the PUT succeeds, the upload id is the file's batch id, and the upload is DONE with the summary the direct
    # path gives
    assert put.status_code == 200
    assert ticket["uploadId"] == batch_id_of(content)
    assert status["state"] == "DONE"
    assert (status["summary"]["total"], status["summary"]["enqueued"], status["summary"]["skipped"]) == (41, 40, 1)


def test_the_same_file_uploaded_directly_afterwards_is_a_duplicate(api: httpx.Client) -> None:
    # Given a file uploaded through the pre-signed URL and ingested
    content = _campaign(5, "then-direct")
    ticket = _reserve(api, content).json()
    httpx.put(ticket["upload"]["url"], content=content, headers=ticket["upload"]["headers"], timeout=30)
    _follow(api, ticket["uploadId"])
    # When the same bytes are uploaded directly
    direct = api.post("/upload", files={"file": ("c.csv", content, "text/csv")})
    # Then the direct upload answers 200 as a duplicate
    assert direct.status_code == 200 and direct.json()["duplicate"] is True


def test_other_bytes_put_under_the_url_fail_the_upload_and_queue_nothing(api: httpx.Client) -> None:
    # Given a reservation for a file of a declared checksum and size
    declared = _campaign(5, "declared")
    ticket = _reserve(api, declared).json()
    # When other bytes of the declared size are PUT under the URL: moto accepts the PUT (real S3 refuses it on the
    # signed checksum), so the ingest's own hash check must refuse the file before any row is written
    other = _campaign(5, "declarex")
    httpx.put(ticket["upload"]["url"], content=other, headers=ticket["upload"]["headers"], timeout=30)
    status = _follow(api, ticket["uploadId"])
    # Then the upload fails as checksum_mismatch, with no row read and none queued
    assert status["state"] == "FAILED" and status["error"]["code"] == "checksum_mismatch"
    assert (status["enqueued"], status["rowsRead"]) == (0, 0)
