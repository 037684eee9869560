#!/usr/bin/env python3
"""Upload a CSV through the large-file path: reserve, PUT to S3, then follow the ingest to its end.

    API_KEY=<key> .venv/bin/python scripts/upload_large.py campaign.csv --api http://127.0.0.1:8000

The file is hashed first (the API names the batch by its SHA-256 and S3 refuses other bytes under the
returned URL) and streamed to S3 from disk, so its size is bounded by S3, not by this machine's memory.
Two progress bars (rich) show the PUT in bytes and the ingest in rows read of the file's total (known
once the ingest's first pass has counted them). The last line says how the batch ended:
`DONE <batchId>: <n> rows, <n> enqueued, ...` (exit status 0), `FAILED <batchId>: <code>: <message>`
(1), or `UNFINISHED <batchId>: ...` when it did not end within --wait seconds (1); a refused request
prints the API's error and exits 1, a missing API key 2.
"""

import argparse
import hashlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

_CHUNK = 1024 * 1024
_POLL_SECONDS = 1.0
_FINAL = ("DONE", "FAILED")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _chunks(file: BinaryIO, progress: Progress, task: TaskID) -> Iterator[bytes]:
    """The file in chunks, advancing the PUT's bar as httpx sends each one."""
    while chunk := file.read(_CHUNK):
        yield chunk
        progress.advance(task, len(chunk))


def _put(ticket: dict[str, Any], path: Path, size: int, console: Console) -> None:
    columns = (TextColumn("PUT to S3"), BarColumn(), DownloadColumn(), TransferSpeedColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress, path.open("rb") as file:
        task = progress.add_task("put", total=size)
        put = httpx.put(
            ticket["upload"]["url"],
            content=_chunks(file, progress, task),
            headers={**ticket["upload"]["headers"], "content-length": str(size)},
            timeout=300,
        )
    put.raise_for_status()


def _follow(status_url: str, headers: dict[str, str], wait: float, console: Console) -> dict[str, Any]:
    """Poll the upload's status until it is final or `wait` seconds have passed; the last status."""
    columns = (TextColumn("ingest {task.fields[state]}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    deadline = time.monotonic() + wait
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("ingest", total=None, state="")
        while True:
            status: dict[str, Any] = httpx.get(status_url, headers=headers, timeout=30).json()
            progress.update(task, completed=status["rowsRead"], total=status["total"], state=status["state"])
            if status["state"] in _FINAL or time.monotonic() >= deadline:
                return status
            time.sleep(_POLL_SECONDS)


def outcome_line(status: dict[str, Any]) -> str:
    """The last line printed: how the batch ended, in one line a script can read."""
    batch, state = status["batchId"], status["state"]
    if state == "DONE":
        summary = status["summary"]
        return (
            f"DONE {batch}: {summary['total']} rows, {summary['enqueued']} enqueued, {summary['skipped']} skipped, "
            f"{summary['alreadyAccepted']} already accepted, {summary['notEnqueued']} not enqueued"
        )
    if state == "FAILED":
        return f"FAILED {batch}: {status['error']['code']}: {status['error']['message']}"
    return f"UNFINISHED {batch}: still {state} ({status['rowsRead']}/{status['total'] or '?'} rows read)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("csv", type=Path)
    parser.add_argument("--api", default="http://127.0.0.1:8000")
    parser.add_argument("--wait", type=float, default=900, help="seconds to follow the ingest")
    args = parser.parse_args()
    api_key = os.environ.get("API_KEY")
    if not api_key:
        print("set API_KEY (make run prints it)", file=sys.stderr)
        return 2
    # Bars go to stderr; stdout carries the outcome line only.
    console = Console(stderr=True)
    headers = {"x-api-key": api_key}
    size = args.csv.stat().st_size
    reply = httpx.post(
        f"{args.api}/uploads", json={"sha256": _sha256(args.csv), "size": size}, headers=headers, timeout=30
    )
    if reply.status_code >= 400:
        print(f"REFUSED: {reply.status_code} {reply.text}")
        return 1
    ticket = reply.json()
    console.print(f"upload {ticket['uploadId']} (batch {ticket['batchId']}): {ticket['state']}")
    if ticket["upload"] is not None:
        _put(ticket, args.csv, size, console)
    status = _follow(f"{args.api}{ticket['statusUrl']}", headers, args.wait, console)
    print(outcome_line(status))
    return 0 if status["state"] == "DONE" else 1


if __name__ == "__main__":
    sys.exit(main())
