"""Build campaign CSV files for tests."""

import csv
import io


def campaign_csv(count: int, *, domain: str = "example.com", subject: str = "Hello", start: int = 0) -> bytes:
    numbers = range(start, start + count)
    return csv_of([(f"user{i}@{domain}", f"{subject} {i}", f"Body for recipient {i}") for i in numbers])


def csv_of(rows: list[tuple[str, str, str]]) -> bytes:
    """A file of these (email, subject, content) rows, quoted where a cell needs it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "subject", "content"])
    writer.writerows(rows)
    return buffer.getvalue().encode()
