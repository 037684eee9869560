"""The example files keep the promises example_csv/README.md makes about them."""

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from campaign.domain.csv_rules import CsvFileError, ParsedCsv, SkipReason, parse_campaign_csv

EXAMPLES = Path(__file__).resolve().parents[2] / "example_csv"
README = EXAMPLES / "README.md"
RESERVED_DOMAINS = ("example.com", "example.org", "example.net")

TABLE_ROW = re.compile(
    r"^\| \[`(?P<file>[^`]+)`\]\([^)]+\) "
    r"\| (?P<outcome>[^|]+) \| (?P<accepted>[^|]+) \| (?P<skipped>[^|]+) \|"
)
REFUSED = re.compile(r"^refused: `(?P<code>\w+)`(?: \(missing: (?P<missing>.+)\))?$")
SKIP = re.compile(r"^line (?P<line>\d+): `(?P<reason>\w+)`$")


@dataclass(frozen=True)
class Promise:
    """One row of the README table."""

    file: str
    error_code: str | None
    missing_columns: list[str] | None
    accepted: int | None
    skipped: list[tuple[int, SkipReason]]


def read_promises() -> list[Promise]:
    promises = []
    for line in README.read_text(encoding="utf-8").splitlines():
        match = TABLE_ROW.match(line)
        if match is None:
            continue
        outcome, accepted, skipped = (match[name].strip() for name in ("outcome", "accepted", "skipped"))
        refused = REFUSED.match(outcome)
        assert refused or outcome == "accepted", f"unreadable outcome in README: {line}"
        skips = [] if skipped == "—" else [SKIP.match(part.strip()) for part in skipped.split(";")]
        assert all(skips), f"unreadable skipped rows in README: {line}"
        promises.append(
            Promise(
                file=match["file"],
                error_code=refused["code"] if refused else None,
                missing_columns=re.findall(r"`(\w+)`", refused["missing"]) if refused and refused["missing"] else None,
                accepted=None if accepted == "—" else int(accepted),
                skipped=[(int(s["line"]), SkipReason(s["reason"])) for s in skips if s],
            )
        )
    return promises


PROMISES = read_promises()


def parse_example(name: str) -> ParsedCsv:
    return parse_campaign_csv((EXAMPLES / name).read_bytes())


def test_readme_lists_every_example_file_exactly_once() -> None:
    # Given the example folder and its README table
    listed = [promise.file for promise in PROMISES]
    # When the two are compared
    on_disk = sorted(path.name for path in EXAMPLES.glob("*.csv"))
    # Then every .csv file has exactly one row, and every row names a file that exists
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed)


@pytest.mark.parametrize("promise", [p for p in PROMISES if p.error_code is None], ids=lambda p: p.file)
def test_accepted_example_gives_the_promised_rows_and_skips(promise: Promise) -> None:
    # Given an example the README says is accepted
    # When it is parsed
    parsed = parse_example(promise.file)
    # Then the accepted count and the skipped (line, reason) pairs are exactly the promised ones
    assert len(parsed.rows) == promise.accepted
    assert [(s.line, s.reason) for s in parsed.skipped] == promise.skipped


@pytest.mark.parametrize("promise", [p for p in PROMISES if p.error_code], ids=lambda p: p.file)
def test_refused_example_gives_the_promised_error(promise: Promise) -> None:
    # Given an example the README says is refused
    # When it is parsed
    with pytest.raises(CsvFileError) as caught:
        parse_example(promise.file)
    # Then the error code (and any named missing columns) are the promised ones
    assert caught.value.code == promise.error_code
    if promise.missing_columns is not None:
        assert caught.value.details["missingColumns"] == promise.missing_columns


@pytest.mark.parametrize("promise", [p for p in PROMISES if p.error_code is None], ids=lambda p: p.file)
def test_accepted_examples_use_only_reserved_example_domains(promise: Promise) -> None:
    # Given an accepted example
    # When it is parsed
    parsed = parse_example(promise.file)
    # Then every address, accepted or skipped, is on a reserved example domain
    emails = [r.email for r in parsed.rows] + [s.email for s in parsed.skipped if "@" in s.email]
    assert emails
    assert all(email.lower().endswith(RESERVED_DOMAINS) for email in emails), emails


@pytest.mark.parametrize("promise", [p for p in PROMISES if p.file.startswith("skip_")], ids=lambda p: p.file)
def test_each_skip_example_mixes_valid_rows_with_exactly_one_bad_row(promise: Promise) -> None:
    # Given an example meant to show one skip reason
    # When it is parsed
    parsed = parse_example(promise.file)
    # Then it keeps some valid rows around exactly one skipped row
    assert len(parsed.rows) >= 2
    assert len(parsed.skipped) == 1


def test_every_skip_reason_but_content_too_long_and_suppressed_has_an_example() -> None:
    # Given the README's promised skips (content_too_long needs a 100 kB cell: too big to ship;
    # suppressed depends on the suppression list, not on the file)
    shown = {reason for promise in PROMISES for _, reason in promise.skipped}
    # When they are compared with the contract's reasons
    # Then every other reason is shown by some example
    assert shown == set(SkipReason) - {SkipReason.CONTENT_TOO_LONG, SkipReason.SUPPRESSED}


def test_campaign_example_is_all_valid_and_shows_quoting() -> None:
    # Given the realistic campaign sample
    # When it is parsed
    parsed = parse_example("campaign.csv")
    # Then nothing is skipped, subjects keep their commas and quotes, and content keeps its line breaks
    assert parsed.skipped == []
    assert any("," in row.subject for row in parsed.rows)
    assert any('"' in row.subject for row in parsed.rows)
    assert any("\n" in row.content for row in parsed.rows)
    assert len({row.email_key for row in parsed.rows}) == len(parsed.rows)


def test_not_utf8_example_is_latin1_text() -> None:
    # Given the not-UTF-8 example
    content = (EXAMPLES / "error_not_utf8.csv").read_bytes()
    # When it is decoded as Latin-1
    text = content.decode("latin-1")
    # Then it is an otherwise valid CSV whose only fault is its encoding
    assert parse_campaign_csv(text.encode()).total == 1


def test_empty_example_has_zero_bytes() -> None:
    # Given the empty example
    # When its size is read
    # Then it is 0 bytes
    assert (EXAMPLES / "error_empty.csv").stat().st_size == 0
