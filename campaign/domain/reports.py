"""What an upload answer echoes of a rejected or repeated row: its line, its (shortened) address and why.

A cell may be as large as the file allows; echoing it whole would make the answer, the stored batch
summary and the streaming ingest's checkpoint as large (DynamoDB refuses items over 400 KB). Each
echoed cell is cut to ECHO_MAX_CHARS characters, marked with an ellipsis.
"""

from collections.abc import Sequence

from campaign.domain.csv_rules import SkippedRow
from campaign.domain.models import AcceptedElsewhereReport, SkippedRowReport
from campaign.limits import ECHO_MAX_CHARS, SKIPPED_ROWS_CAP

ELLIPSIS = "…"


def echo(cell: str) -> str:
    if len(cell) <= ECHO_MAX_CHARS:
        return cell
    return cell[: ECHO_MAX_CHARS - 1] + ELLIPSIS


def skipped_report(skipped: SkippedRow) -> SkippedRowReport:
    return SkippedRowReport(row=skipped.line, email=echo(skipped.email), reason=skipped.reason.value)


def in_file_order(*reports: Sequence[SkippedRowReport]) -> tuple[SkippedRowReport, ...]:
    """Skipped rows found by different steps (the CSV rules, the suppression list), merged in file
    order and capped: each list holds its first rows in file order, so the first of the merge are too."""
    return tuple(sorted((r for listed in reports for r in listed), key=lambda r: r.row))[:SKIPPED_ROWS_CAP]


def accepted_elsewhere_report(line: int, email: str, batch_id: str) -> AcceptedElsewhereReport:
    return AcceptedElsewhereReport(row=line, email=echo(email), batch_id=batch_id)
