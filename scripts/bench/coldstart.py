"""Cold-start imports: each handler against its baseline, side by side, in fresh interpreters.

Every sample is a new `python -c` process that times one import with perf_counter (interpreter
start-up, the same for all, is not included). The targets take turns, round after round, so a burst
of load on the machine hits all of them alike; the first round is thrown away. Times here vary by
±15% from sample to sample; scripts/bench/instructions.py counts the same imports' instructions,
which repeat exactly.

Each round imports from a different call depth. CPython 3.11 and 3.12 (Lambda's runtime) allocate a
fresh 16 KiB frame-stack chunk, with mmap, whenever a call crosses the end of the current one, and free
it on return (CPython gh-142183, fixed in 3.13 and 3.14 only): code that calls in a loop right at a
chunk boundary makes thousands of mmap/munmap pairs. Where the boundaries fall depends on how deep the
import starts, which in Lambda is the runtime's own depth, so one fixed depth measures one arbitrary
alignment: measured here, the bare app's import made 295 munmaps from depth 0 and 9,244 from depth 30.
The rounds walk the depths across one chunk (a frame of the probe's recursion is about 100 bytes), and
every target sees the same depths.

Every target imports as its Lambda package ships it: the modules `make package` leaves out of the zips
(`pydantic.v1`, see scripts/package_lambdas.py) are made unimportable first, for all the targets alike (none
of the baselines imports them).

Every module loads from bytecode, as in Lambda, where `make package` ships a .pyc beside every module
of ours and of our dependencies: the first round writes the caches of all the targets into one
PYTHONPYCACHEPREFIX folder, whatever PYTHONDONTWRITEBYTECODE says outside (left set, it made our own
modules compile from source in every sample while the libraries' came from pip's caches).
Run by scripts/bench/__main__.py (`python -m scripts.bench.coldstart`); prints JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.loopback import PROJECT_ROOT, offline_aws_env
from scripts.package_lambdas import COMPONENTS, without_modules

# Each target is the statement a probe times. The baselines: `import boto3` for the worker; for the API,
# the bare FastAPI + Strawberry + Mangum app and nothing of ours (scripts/bench/bare_app.py).
BARE_APP = "import scripts.bench.bare_app"
_PAUSED = "from campaign.cold_start import collector_paused\nwith collector_paused():\n    {}"
TARGETS = {
    "boto3": "import boto3",
    "worker.handler": "import worker.handler",
    "bare FastAPI+Strawberry+Mangum": BARE_APP,
    "app.handler": "import app.handler",
    # The baselines again with the collector paused as the handlers pause it (campaign/cold_start.py):
    # the verdict is against the baselines as defined, these show how much of the margin is the pause's.
    "boto3, collector paused": _PAUSED.format("import boto3"),
    "bare app, collector paused": _PAUSED.format(BARE_APP),
}
# What the handlers read at import (as Lambda sets it): the API builds its app, and so its settings,
# at import. A local API key means no Secrets Manager; nothing here calls AWS.
HANDLER_ENV = {
    **offline_aws_env("bench"),
    "TABLE_NAME": "csv-campaign-bench",
    "QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/csv-campaign-bench-sends",
    "UPLOAD_BUCKET": "csv-campaign-bench-uploads",
    "API_KEY": "bench-api-key",
    "UNSUBSCRIBE_KEY": "bench-unsubscribe-key",
    "SEND_MODE": "dry-run",
    "POWERTOOLS_SERVICE_NAME": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    # Set by Lambda. The X-Ray SDK checks it at import: outside Lambda its recorder builds two botocore
    # X-Ray clients for centralized sampling (~200 ms here), which in Lambda it never builds.
    "LAMBDA_TASK_ROOT": "/var/task",
}
_PROBE = """import time
def at_depth(n):
    if n:
        return at_depth(n - 1)
    started = time.perf_counter()
    exec({statement!r}, {{}})
    return time.perf_counter() - started
print(at_depth({depth}))"""
LEFT_OUT = tuple(sorted({module for component in COMPONENTS.values() for module in component.left_out}))


def as_packaged(statement: str) -> str:
    """`statement` run where the modules the packages leave out cannot be imported."""
    return without_modules(statement, LEFT_OUT)


# Call depths the rounds import from, in turn: 160 frames of the probe's recursion span a 16 KiB chunk.
DEPTHS = tuple(range(0, 160, 16))
_OUTSIDE_ONLY = ("AWS_", "POWERTOOLS_", "PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")


def probe_env(bytecode_cache: Path) -> dict[str, str]:
    """The environment of one probe process: the handlers' settings, bytecode cached in one folder."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(_OUTSIDE_ONLY)}
    return env | HANDLER_ENV | {"PYTHONPATH": str(PROJECT_ROOT), "PYTHONPYCACHEPREFIX": str(bytecode_cache)}


def import_seconds(statement: str, bytecode_cache: Path, depth: int = 0) -> float:
    done = subprocess.run(
        [sys.executable, "-c", as_packaged(_PROBE.format(statement=statement, depth=depth))],
        env=probe_env(bytecode_cache),
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{statement!r} failed:\n{done.stderr}")
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2 * len(DEPTHS))
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in TARGETS}
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as bytecode_cache:
        for round_ in range(args.rounds + 1):
            for name, statement in TARGETS.items():
                seconds = import_seconds(statement, Path(bytecode_cache), DEPTHS[(round_ - 1) % len(DEPTHS)])
                if round_:
                    samples[name].append(seconds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(json.dumps({"rounds": args.rounds, "depths": DEPTHS, "median_seconds": medians, "samples": samples}))


if __name__ == "__main__":
    main()
