"""The upload bucket: pre-signed PUTs for clients, and streamed reads for the ingest.

Objects are named by their batch (`uploads/<batchId>.csv`), and a pre-signed PUT carries the file's
SHA-256 as a signed `x-amz-checksum-sha256` header: S3 refuses any other bytes under that URL, so the
key, the checksum and the batch id all name the same file.
"""

import base64
import re
from typing import Any, BinaryIO, NamedTuple

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from campaign.aws.clients import client
from campaign.caches import per_container
from campaign.domain.ids import BATCH_ID_PATTERN

UPLOAD_PREFIX = "uploads/"
UPLOAD_SUFFIX = ".csv"
_KEY = re.compile(rf"^{re.escape(UPLOAD_PREFIX)}(?P<batch>{BATCH_ID_PATTERN}){re.escape(UPLOAD_SUFFIX)}$")
# Pre-signed URLs must be SigV4 (SigV2 cannot sign the checksum header, and new regions refuse it).
_PRESIGNING = Config(signature_version="s3v4")


@per_container
def _presigning_client() -> Any:
    return boto3.client("s3", config=_PRESIGNING)


def upload_key(batch_id: str) -> str:
    return f"{UPLOAD_PREFIX}{batch_id}{UPLOAD_SUFFIX}"


def batch_id_from_key(key: str) -> str | None:
    """The batch an object belongs to, or None for an object this service did not ask for."""
    match = _KEY.match(key)
    return match.group("batch") if match else None


class UploadMissingError(LookupError):
    """The upload's object is not in the bucket: deleted, or expired by the lifecycle rule, before its
    ingest read it."""


class PresignedUpload(NamedTuple):
    url: str
    headers: dict[str, str]


class UploadStore:
    def __init__(self, bucket: str) -> None:
        # No client here: the API only signs URLs (a client of its own), so it never builds the one
        # the streaming ingest reads with.
        self._bucket = bucket

    def presign_put(self, batch_id: str, sha256_hex: str, expires_seconds: int) -> PresignedUpload:
        checksum = base64.b64encode(bytes.fromhex(sha256_hex)).decode()
        url = _presigning_client().generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": upload_key(batch_id), "ChecksumSHA256": checksum},
            ExpiresIn=expires_seconds,
        )
        return PresignedUpload(url=url, headers={"x-amz-checksum-sha256": checksum})

    def open(self, batch_id: str) -> BinaryIO:
        """The object's bytes as a stream, read from S3 as the caller consumes them."""
        try:
            body: BinaryIO = client("s3").get_object(Bucket=self._bucket, Key=upload_key(batch_id))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                raise UploadMissingError(batch_id) from exc
            raise
        return body
