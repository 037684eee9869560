"""The large-upload path as a client and S3 drive it: reserve, put the object, deliver the event.

The client's PUT is played by boto3's put_object (moto does not check pre-signed signatures or
checksums; tests/http covers the real PUT over HTTP), and the S3 notification by calling the
streaming-ingest handler with the event S3 would send.
"""

import hashlib

from fastapi.testclient import TestClient
from httpx import Response

from campaign.aws.clients import client
from campaign.aws.upload_store import upload_key
from campaign.domain.ids import batch_id_for
from scripts.local.provision import LocalResources
from scripts.local.s3_events import object_created_event
from scripts.local.sqs_poller import LocalLambdaContext
from worker import s3_ingest


def sha256_of(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def reserve(api: TestClient, content: bytes) -> Response:
    response: Response = api.post("/uploads", json={"sha256": sha256_of(content), "size": len(content)})
    return response


def put_and_notify(stack: LocalResources, content: bytes, *, remaining_ms: int = 900_000) -> dict[str, str]:
    key = upload_key(batch_id_for(content))
    client("s3").put_object(Bucket=stack.upload_bucket, Key=key, Body=content)
    return notify(stack, key, len(content), remaining_ms=remaining_ms)


def notify(stack: LocalResources, key: str, size: int, *, remaining_ms: int = 900_000) -> dict[str, str]:
    event = object_created_event(stack.upload_bucket, key, size)
    outcomes: dict[str, str] = s3_ingest.handler(event, LocalLambdaContext(remaining_ms=remaining_ms))
    return outcomes
