"""S3 ObjectCreated notifications for the local stack, shaped as S3 delivers them to Lambda.

moto's S3 does not invoke Lambda, so the local runner watches the upload prefix and hands each new
object to the streaming-ingest handler in the event it would get in AWS.
"""

from typing import Any
from urllib.parse import quote_plus

from campaign.aws.clients import client
from campaign.aws.upload_store import UPLOAD_PREFIX


def object_created_event(bucket: str, key: str, size: int, etag: str = "") -> dict[str, Any]:
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key), "size": size, "eTag": etag},
                },
            }
        ]
    }


class UploadWatcher:
    """Yields an event for each object put (or put again) under the upload prefix since the last look."""

    def __init__(self, bucket: str) -> None:
        self._bucket = bucket
        self._seen: dict[str, str] = {}

    def new_events(self) -> list[dict[str, Any]]:
        events = []
        pages = client("s3").get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=UPLOAD_PREFIX)
        for page in pages:
            for obj in page.get("Contents", []):
                version = f"{obj['ETag']}@{obj['LastModified'].isoformat()}"
                if self._seen.get(obj["Key"]) != version:
                    self._seen[obj["Key"]] = version
                    events.append(object_created_event(self._bucket, obj["Key"], obj["Size"], obj["ETag"]))
        return events
