#!/usr/bin/env python3
"""Upload a CSV through the large-file path: reserve, PUT to S3, then follow the ingest to its end.

    API_KEY=<key> .venv/bin/python scripts/upload_large.py campaign.csv --api http://127.0.0.1:8000

The file is hashed first (the API names the batch by its SHA-256 and S3 refuses other bytes under the
returned URL) and streamed to S3 from disk, so its size is bounded by S3, not by this machine's memory.
Exit status 0 when the upload ends DONE, 1 when it ends FAILED or does not finish in --wait seconds.
"""

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import httpx

_CHUNK = 1024 * 1024


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


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
    headers = {"x-api-key": api_key}
    size = args.csv.stat().st_size
    ticket = httpx.post(
        f"{args.api}/uploads", json={"sha256": _sha256(args.csv), "size": size}, headers=headers, timeout=30
    )
    if ticket.status_code >= 400:
        print(ticket.text, file=sys.stderr)
        return 1
    body = ticket.json()
    print(f"upload {body['uploadId']}: {body['state']}")
    if body["upload"] is not None:
        with args.csv.open("rb") as file:
            put = httpx.put(
                body["upload"]["url"],
                content=iter(lambda: file.read(_CHUNK), b""),
                headers={**body["upload"]["headers"], "content-length": str(size)},
                timeout=300,
            )
        put.raise_for_status()
        print(f"put {size} bytes to S3")
    deadline = time.monotonic() + args.wait
    while time.monotonic() < deadline:
        status = httpx.get(f"{args.api}{body['statusUrl']}", headers=headers, timeout=30).json()
        print(f"  {status['state']}: {status['rowsRead']}/{status['total'] or '?'} rows read", flush=True)
        if status["state"] in ("DONE", "FAILED"):
            print(json.dumps(status["summary"] or status["error"], indent=2))
            return 0 if status["state"] == "DONE" else 1
        time.sleep(1)
    return 1


if __name__ == "__main__":
    sys.exit(main())
