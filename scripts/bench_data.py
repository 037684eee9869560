"""Campaign CSV files for the benchmark: mostly valid rows, one in fifty with a bad address."""

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

INVALID_EVERY = 50
_HEADER = ("email", "subject", "content")


def _rows(count: int, tag: str) -> Iterator[tuple[str, str, str]]:
    for i in range(count):
        email = f"not-an-address-{i}" if i % INVALID_EVERY == INVALID_EVERY - 1 else f"user{i}.{tag}@example.com"
        subject = f"Spring offer {i}: 20% off, this week only"
        content = f"Hello customer {i},\nour spring collection is here. Reply STOP to unsubscribe.\n- The team"
        yield email, subject, content


def accepted_rows(count: int) -> int:
    """How many rows of a generated file the CSV rules accept."""
    return count - count // INVALID_EVERY


def _write(out: TextIO, count: int, tag: str) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_HEADER)
    writer.writerows(_rows(count, tag))


def campaign_csv(count: int, tag: str) -> bytes:
    """A file of `count` data rows; `tag` makes its addresses (and so its batch) unique."""
    buffer = io.StringIO()
    _write(buffer, count, tag)
    return buffer.getvalue().encode()


def write_campaign_csv(path: Path, count: int, tag: str) -> int:
    """The same, streamed to disk (a million rows never sit in memory); returns the size in bytes."""
    with path.open("w", encoding="utf-8", newline="") as out:
        _write(out, count, tag)
    return path.stat().st_size
