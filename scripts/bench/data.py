"""Campaign CSV files for the benchmark: mostly valid rows, one in fifty with a bad address."""

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

INVALID_EVERY = 50
_HEADER = ("email", "subject", "content")


def _rows(count: int, tag: str, body_bytes: int | None) -> Iterator[tuple[str, str, str]]:
    for i in range(count):
        email = f"not-an-address-{i}" if i % INVALID_EVERY == INVALID_EVERY - 1 else f"user{i}.{tag}@example.com"
        subject = f"Spring offer {i}: 20% off, this week only"
        content = f"Hello customer {i},\nour spring collection is here. Reply STOP to unsubscribe.\n- The team"
        if body_bytes is not None:
            content = _personal_body(i, body_bytes)
        yield email, subject, content


def _personal_body(i: int, size: int) -> str:
    """A newsletter of `size` ASCII characters, different for every recipient."""
    lines = [f"Hello customer {i},"]
    n = 0
    while sum(len(line) + 1 for line in lines) < size:
        lines.append(f"Item {n} for you, customer {i}: {(i * 7919 + n * 104729) % 100_003} points to spend.")
        n += 1
    return "\n".join(lines)[:size]


def accepted_rows(count: int) -> int:
    """How many rows of a generated file the CSV rules accept."""
    return count - count // INVALID_EVERY


def _write(out: TextIO, count: int, tag: str, body_bytes: int | None = None) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(_HEADER)
    writer.writerows(_rows(count, tag, body_bytes))


def campaign_csv(count: int, tag: str, body_bytes: int | None = None) -> bytes:
    """A file of `count` data rows; `tag` makes its addresses (and so its batch) unique. With
    `body_bytes`, every row has its own body of that size (else a short one, small enough for its row)."""
    buffer = io.StringIO()
    _write(buffer, count, tag, body_bytes)
    return buffer.getvalue().encode()


def write_campaign_csv(path: Path, count: int, tag: str) -> int:
    """The same, streamed to disk (a million rows never sit in memory); returns the size in bytes."""
    with path.open("w", encoding="utf-8", newline="") as out:
        _write(out, count, tag)
    return path.stat().st_size
