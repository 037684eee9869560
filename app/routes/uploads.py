"""Large uploads: POST /uploads reserves a batch and returns a pre-signed S3 PUT; GET /uploads/{id}
reports the ingest's progress and, once done, the same summary as POST /upload."""

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, BeforeValidator, Field, StrictInt

from app.deps import BatchesDep, UploadStoreDep
from app.errors import ApiError
from app.routes.upload import CamelModel, ErrorOut, UploadOut
from campaign.domain.csv_rules import CsvErrorCode
from campaign.domain.ids import BATCH_ID_FORMAT, BATCH_ID_PATTERN, is_batch_id
from campaign.domain.models import BatchRecord, BatchState
from campaign.limits import MAX_LARGE_UPLOAD_BYTES, MAX_LARGE_UPLOAD_ROWS, UPLOAD_URL_TTL_SECONDS
from campaign.services.ingest import upload_counts
from campaign.services.reserve_upload import reserve_upload

router = APIRouter(tags=["large uploads"])


class UploadRequest(BaseModel):
    sha256: Annotated[
        str, Field(pattern=r"^[0-9a-fA-F]{64}$", description="Hex SHA-256 of the file, e.g. `sha256sum file.csv`")
    ]
    # No schema maximum: above MAX_LARGE_UPLOAD_BYTES the route answers 413, not a validation 400.
    # Strict: JSON `true` or `1.0` is not a size (lax mode would read both as 1).
    size: Annotated[StrictInt, Field(ge=1, description="The file's size in bytes; the ingest holds the file to it")]


class PresignedPutOut(CamelModel):
    url: str
    method: str = "PUT"
    headers: dict[str, str]
    expires_in_seconds: int


class UploadTicketOut(CamelModel):
    upload_id: str
    batch_id: str
    state: str
    # Absent when the file is not needed any more (the batch is done or being ingested).
    upload: PresignedPutOut | None
    status_url: str


class UploadErrorOut(CamelModel):
    code: str
    message: str


class UploadStatusOut(CamelModel):
    upload_id: str
    batch_id: str
    state: str
    # A batch records 0 until its file's first pass has counted the rows (a file of none is refused).
    total: Annotated[int | None, BeforeValidator(lambda rows: rows or None)] = Field(
        description="Data rows in the file, known once its first pass is done"
    )
    rows_read: int
    enqueued: int
    skipped: int
    not_enqueued: int
    already_accepted: int
    error: UploadErrorOut | None
    summary: UploadOut | None = Field(description="When DONE: what POST /upload answers for the same file")


@router.post(
    "/uploads",
    status_code=201,
    response_model=UploadTicketOut,
    response_model_by_alias=True,
    responses={
        200: {"model": UploadTicketOut, "description": "This file was reserved or uploaded before"},
        400: {"model": ErrorOut, "description": "The request body is not {sha256, size}"},
        413: {"model": ErrorOut, "description": f"The file is larger than {MAX_LARGE_UPLOAD_BYTES} bytes"},
    },
)
def reserve_large_upload(
    body: UploadRequest, response: Response, batches: BatchesDep, store: UploadStoreDep
) -> UploadTicketOut:
    """Reserve the batch for a file of up to MAX_LARGE_UPLOAD_BYTES and up to MAX_LARGE_UPLOAD_ROWS rows;
    PUT the file to `upload.url` with `upload.headers`; S3 refuses any other bytes."""
    if body.size > MAX_LARGE_UPLOAD_BYTES:
        raise ApiError(
            413,
            CsvErrorCode.FILE_TOO_LARGE,
            f"the file exceeds {MAX_LARGE_UPLOAD_BYTES} bytes",
            details={"limitBytes": MAX_LARGE_UPLOAD_BYTES, "limitRows": MAX_LARGE_UPLOAD_ROWS},
        )
    reservation = reserve_upload(body.sha256.lower(), body.size, batches, store)
    response.status_code = 201 if reservation.created else 200
    batch = reservation.batch
    upload = reservation.upload
    return UploadTicketOut(
        upload_id=batch.batch_id,
        batch_id=batch.batch_id,
        state=batch.state.value,
        upload=None
        if upload is None
        else PresignedPutOut(url=upload.url, headers=upload.headers, expires_in_seconds=UPLOAD_URL_TTL_SECONDS),
        status_url=f"/uploads/{batch.batch_id}",
    )


@router.get(
    "/uploads/{upload_id}",
    response_model=UploadStatusOut,
    response_model_by_alias=True,
    responses={
        400: {"model": ErrorOut, "description": "The id is not in the uploadId format"},
        404: {"model": ErrorOut, "description": "No upload has this id"},
    },
)
def upload_status(
    # The format is documented, not validated by FastAPI: a malformed id gets our own 400 invalid_upload_id.
    upload_id: Annotated[
        str,
        Path(
            description="The uploadId (= batchId) from POST /uploads or POST /upload",
            json_schema_extra={"pattern": f"^{BATCH_ID_PATTERN}$"},
        ),
    ],
    batches: BatchesDep,
) -> UploadStatusOut:
    """Progress of one upload (either path): AWAITING_UPLOAD, INGESTING, DONE or FAILED."""
    if not is_batch_id(upload_id):
        raise ApiError(400, "invalid_upload_id", f"an uploadId is {BATCH_ID_FORMAT} (the batchId an upload answered)")
    record = batches.get(upload_id)
    if record is None:
        raise ApiError(404, "upload_not_found", f"no upload has the id {upload_id!r}")
    return _status(record)


def _status(record: BatchRecord) -> UploadStatusOut:
    done = record.state is BatchState.DONE
    return UploadStatusOut(
        **upload_counts(record),
        upload_id=record.batch_id,
        state=record.state.value,
        rows_read=record.rows_read,
        error=None
        if record.error_code is None
        else UploadErrorOut(code=record.error_code, message=record.error_message or ""),
        summary=UploadOut.of(record, duplicate=False) if done else None,
    )
