"""Typed dependencies: gateways built once per container from the API's settings."""

from functools import lru_cache
from typing import Annotated

from fastapi import Depends

from campaign.aws.batches import Batches
from campaign.aws.send_index import SendIndex
from campaign.aws.send_queue import SendQueue
from campaign.aws.send_rows import SendRows
from campaign.aws.upload_store import UploadStore
from campaign.config import api_settings
from campaign.services.ingest import IngestGateways


@lru_cache(maxsize=1)
def ingest_gateways() -> IngestGateways:
    settings = api_settings()
    return IngestGateways(
        batches=Batches(settings.table_name),
        rows=SendRows(settings.table_name),
        queue=SendQueue(settings.queue_url, settings.enqueue_delay_seconds),
    )


@lru_cache(maxsize=1)
def send_index() -> SendIndex:
    return SendIndex(api_settings().table_name)


IngestDep = Annotated[IngestGateways, Depends(ingest_gateways)]
SendIndexDep = Annotated[SendIndex, Depends(send_index)]


@lru_cache(maxsize=1)
def batches() -> Batches:
    return Batches(api_settings().table_name)


BatchesDep = Annotated[Batches, Depends(batches)]


@lru_cache(maxsize=1)
def upload_store() -> UploadStore:
    return UploadStore(api_settings().upload_bucket)


UploadStoreDep = Annotated[UploadStore, Depends(upload_store)]
