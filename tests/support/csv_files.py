"""Build campaign CSV files for tests."""

import csv
import io


def campaign_csv(count: int, *, domain: str = "example.com", subject: str = "Hello", start: int = 0) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["email", "subject", "content"])
    for i in range(start, start + count):
        writer.writerow([f"user{i}@{domain}", f"{subject} {i}", f"Body for recipient {i}"])
    return buffer.getvalue().encode()
