"""POST /uploads: reserve the batch a large file will become, and say where to put the file.

The batch is named by the file's declared SHA-256, exactly as a direct upload of the same bytes would
be, so both paths share one batch (and one set of sends) whichever comes first. The reservation is
the same conditional write as a direct upload's claim.
"""

from datetime import UTC, datetime
from typing import NamedTuple

from campaign.aws.batches import Batches, NewBatch
from campaign.aws.upload_store import PresignedUpload, UploadStore
from campaign.domain.clock import to_iso
from campaign.domain.ids import batch_id_for_digest
from campaign.domain.models import STARTABLE_STATES, BatchRecord, BatchState
from campaign.limits import UPLOAD_URL_TTL_SECONDS
from campaign.services.lease import lease_lapsed


class Reservation(NamedTuple):
    batch: BatchRecord
    # None when the file is not needed: the batch is done, or a live ingest is reading it.
    upload: PresignedUpload | None
    created: bool


def reserve_upload(sha256_hex: str, size: int, batches: Batches, store: UploadStore) -> Reservation:
    now = datetime.now(UTC)
    batch_id = batch_id_for_digest(sha256_hex)
    record = BatchRecord(batch_id, to_iso(now), BatchState.AWAITING_UPLOAD, total=0, skipped=0, declared_size=size)
    claim = batches.claim(record)
    if isinstance(claim, NewBatch):
        return Reservation(record, store.presign_put(batch_id, sha256_hex, UPLOAD_URL_TTL_SECONDS), created=True)
    existing = claim.batch
    # A refused file may be put again (e.g. after a failed checksum), and a dead ingest resumes when its
    # object is put again (the new ObjectCreated event takes the lapsed lease over).
    wants_file = existing.state in STARTABLE_STATES or lease_lapsed(existing, now)
    if existing.state in STARTABLE_STATES and existing.declared_size != size:
        batches.declare_size(batch_id, size, existing.state)
    upload = store.presign_put(batch_id, sha256_hex, UPLOAD_URL_TTL_SECONDS) if wants_file else None
    return Reservation(existing, upload, created=False)
