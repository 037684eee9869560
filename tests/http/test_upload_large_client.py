"""scripts/upload_large.py against the live stack: its exit status and last line say how the batch
ended (the progress bars go to stderr)."""

import os
import subprocess
import sys
from pathlib import Path

from scripts.local.stack import LiveStack

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "scripts" / "upload_large.py"


def _upload(stack: LiveStack, csv: Path, api_key: str | None) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "API_KEY"}
    if api_key is not None:
        env["API_KEY"] = api_key
    return subprocess.run(
        [sys.executable, str(CLIENT), str(csv), "--api", stack.base_url, "--wait", "60"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_file_that_ingests_ends_with_done_and_its_counts(stack: LiveStack) -> None:
    # Given the example campaign
    # When it is uploaded through the large-file path
    run = _upload(stack, ROOT / "example_csv" / "campaign.csv", stack.api_key)
    # Then the client exits 0 and its last line says DONE with the batch's counts
    last = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 0, run.stderr
    assert last.startswith("DONE ") and " rows, " in last and " enqueued, " in last


def test_a_file_refused_as_a_whole_ends_with_failed_and_its_reason(stack: LiveStack) -> None:
    # Given a file without the content column
    # When it is uploaded through the large-file path
    run = _upload(stack, ROOT / "example_csv" / "error_missing_column.csv", stack.api_key)
    # Then the client exits 1 and its last line says FAILED with the file error's code
    last = run.stdout.strip().splitlines()[-1]
    assert run.returncode == 1, run.stderr
    assert last.startswith("FAILED ") and "missing_columns" in last


def test_without_an_api_key_nothing_is_sent(stack: LiveStack) -> None:
    # Given no API_KEY in the environment
    # When the client runs
    run = _upload(stack, ROOT / "example_csv" / "campaign.csv", None)
    # Then it exits 2 and says what to set
    assert run.returncode == 2
    assert "API_KEY" in run.stderr
