"""Typed dependencies: gateways built once per container from the API's settings."""

from typing import Annotated

from fastapi import Depends

from campaign.aws.batch_counts import BatchCounts
from campaign.aws.batches import Batches
from campaign.aws.bodies import Bodies
from campaign.aws.send_index import SendIndex
from campaign.aws.send_rows import SendRows
from campaign.aws.suppressions import Suppressions
from campaign.aws.unsubscribe_keys import resolve_key
from campaign.aws.upload_store import UploadStore
from campaign.caches import per_container
from campaign.config import api_settings
from campaign.services.ingest import IngestGateways, ingest_gateways_from


@per_container
def ingest_gateways() -> IngestGateways:
    return ingest_gateways_from(api_settings())


@per_container
def send_index() -> SendIndex:
    return SendIndex(api_settings().table_name)


IngestDep = Annotated[IngestGateways, Depends(ingest_gateways)]
SendIndexDep = Annotated[SendIndex, Depends(send_index)]


@per_container
def batches() -> Batches:
    return Batches(api_settings().table_name, api_settings().retention)


@per_container
def batch_counts() -> BatchCounts:
    return BatchCounts(api_settings().table_name, api_settings().retention)


@per_container
def bodies() -> Bodies:
    return Bodies(api_settings().table_name)


BatchesDep = Annotated[Batches, Depends(batches)]


@per_container
def upload_store() -> UploadStore:
    return UploadStore(api_settings().upload_bucket)


UploadStoreDep = Annotated[UploadStore, Depends(upload_store)]


@per_container
def send_rows() -> SendRows:
    return SendRows(api_settings().table_name)


@per_container
def suppressions() -> Suppressions:
    return Suppressions(api_settings().table_name)


@per_container
def unsubscribe_key() -> bytes:
    """Read once per container: links signed with a rotated key stop working as containers are replaced."""
    return resolve_key(api_settings().unsubscribe_key)


SendRowsDep = Annotated[SendRows, Depends(send_rows)]
SuppressionsDep = Annotated[Suppressions, Depends(suppressions)]
UnsubscribeKeyDep = Annotated[bytes, Depends(unsubscribe_key)]
