"""POST /upload: a CSV file in, a batch summary out."""

from typing import Annotated

from fastapi import APIRouter, Depends, File, Request, Response, UploadFile
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from app.deps import IngestDep
from app.errors import ApiError
from campaign.domain.csv_rules import CsvErrorCode, CsvFileError
from campaign.domain.models import BatchRecord
from campaign.limits import MAX_UPLOAD_BYTES, MAX_UPLOAD_ROWS, SKIPPED_ROWS_CAP
from campaign.services.ingest import UploadResult, ingest_csv, upload_counts
from campaign.services.lease import IngestInProgressError

router = APIRouter(tags=["upload"])


class CamelModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class SkippedRowOut(CamelModel):
    row: int
    email: str
    reason: str


class AcceptedElsewhereOut(CamelModel):
    row: int
    email: str
    batch_id: str


class UploadOut(CamelModel):
    batch_id: str
    total: int
    enqueued: int
    skipped: int
    not_enqueued: int
    already_accepted: int
    duplicate: bool
    skipped_rows: list[SkippedRowOut]
    already_accepted_rows: list[AcceptedElsewhereOut]

    @classmethod
    def of(
        cls,
        record: BatchRecord | UploadResult,
        *,
        duplicate: bool,
    ) -> "UploadOut":
        """The answer both paths give, from a stored batch (or a fresh ingest)."""
        return cls(
            **upload_counts(record),
            duplicate=duplicate,
            skipped_rows=[
                SkippedRowOut(row=s.row, email=s.email, reason=s.reason) for s in record.skipped_rows[:SKIPPED_ROWS_CAP]
            ],
            already_accepted_rows=[
                AcceptedElsewhereOut(row=a.row, email=a.email, batch_id=a.batch_id)
                for a in record.already_accepted_rows[:SKIPPED_ROWS_CAP]
            ],
        )


class ErrorOut(BaseModel):
    error: str
    message: str


_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorOut, "description": "The file is not a usable CSV (the message says why)"},
    409: {
        "model": ErrorOut,
        "description": "This file is being ingested by an earlier request: retry after `Retry-After`",
    },
    413: {
        "model": ErrorOut,
        "description": f"The file is larger than {MAX_UPLOAD_BYTES} bytes or has more than {MAX_UPLOAD_ROWS} rows",
    },
    415: {"model": ErrorOut, "description": "The request is not multipart/form-data"},
}


def in_progress(exc: IngestInProgressError) -> ApiError:
    """A live ingest owns the batch: say when to come back, never a success that hides unfinished work."""
    return ApiError(
        409,
        "ingest_in_progress",
        f"this file is being ingested by an earlier request; retry in {exc.retry_after_seconds} s for its summary",
        details={"batchId": exc.batch_id, "retryAfterSeconds": exc.retry_after_seconds},
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


def require_multipart(request: Request) -> None:
    """A dependency, so that it runs before FastAPI reads the form: a urlencoded body with a `file`
    field must be refused for its type, not for the shape of its field."""
    if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        raise ApiError(415, "unsupported_media_type", "send the CSV as multipart/form-data in a field named 'file'")


async def require_one_file(request: Request) -> None:
    """Two `file` fields would otherwise be settled silently by the last one: which file did the user mean?
    The form is already parsed (and cached on the request) when this runs."""
    if len((await request.form()).getlist("file")) > 1:
        raise ApiError(400, "duplicate_file_field", "the multipart body has more than one field named 'file': send one")


@router.post(
    "/upload",
    dependencies=[Depends(require_multipart), Depends(require_one_file)],
    status_code=201,
    response_model=UploadOut,
    response_model_by_alias=True,
    responses={200: {"model": UploadOut, "description": "This file was uploaded before"}, **_ERRORS},
)
def upload_csv(response: Response, gateways: IngestDep, file: Annotated[UploadFile | None, File()] = None) -> UploadOut:
    """Queue one send per valid row of an `email,subject,content` CSV; a re-upload is a no-op."""
    if file is None:
        raise ApiError(400, "missing_file", "the multipart body has no field named 'file'")
    content = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise ApiError(
            413,
            CsvErrorCode.FILE_TOO_LARGE,
            f"the file exceeds {MAX_UPLOAD_BYTES} bytes",
            details={"limitBytes": MAX_UPLOAD_BYTES},
        )
    try:
        result = ingest_csv(content, gateways)
    except CsvFileError as exc:
        status = 413 if exc.code is CsvErrorCode.TOO_MANY_ROWS else 400
        raise ApiError(status, exc.code, exc.message, details=exc.details) from exc
    except IngestInProgressError as exc:
        raise in_progress(exc) from exc
    response.status_code = 201 if result.created else 200
    return UploadOut.of(result, duplicate=result.duplicate)
