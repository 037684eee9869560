"""Cold-start imports counted in instructions: the same imports as scripts/bench/coldstart.py, plus
the libraries each handler imports before any code of ours (LIBRARIES).

Import times on a shared VM vary by ±15% from sample to sample, which is as much as the margins the
targets leave. Valgrind's callgrind counts the instructions a process executes, and with a fixed hash
seed and warm bytecode caches the count repeats to within 0.01%, whatever the machine is doing. It sees
user space only (the file system calls of an import are not in it), so it stands beside the timed
figure rather than replacing it. Each count is one `python -c "import X"` process less an empty one
(`python -c "pass"`, the interpreter's start-up). Needs valgrind (Debian package `valgrind`); prints
JSON, with `"valgrind": null` when it is not installed.
Run by scripts/bench/__main__.py (`python -m scripts.bench.instructions`).
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from scripts.bench.coldstart import BARE_APP, TARGETS, as_packaged, probe_env
from scripts.loopback import PROJECT_ROOT

# What each handler imports before any code of ours, built as campaign/observability.py builds it: boto3 and
# the Powertools utilities; for the API also the bare app and the parameters utility that reads the API key
# (imported, not built: app/auth.py builds its provider on first use). `import <handler>` less this splits
# the cold start into what the libraries cost and what our own modules add.
_WORKER_LIBRARIES = """import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
Logger(); Metrics(); Tracer(patch_modules=("botocore",))"""
LIBRARIES = {
    "worker libraries": _WORKER_LIBRARIES,
    "API libraries": "\n".join(
        (_WORKER_LIBRARIES, "from aws_lambda_powertools.utilities.parameters import SecretsProvider", BARE_APP)
    ),
}
_COLLECTED = re.compile(r"Collected : (\d+)")


def instructions(statement: str, valgrind: str, bytecode_cache: Path) -> int:
    """Instructions of `statement`, run as the handlers import in Lambda (bench_coldstart.as_packaged)."""
    statement = as_packaged(statement)
    env = probe_env(bytecode_cache) | {"PYTHONHASHSEED": "0"}
    # Once without valgrind, so the bytecode caches exist before the count.
    subprocess.run([sys.executable, "-c", statement], env=env, cwd=PROJECT_ROOT, check=True, capture_output=True)
    done = subprocess.run(
        [valgrind, "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, "-c", statement],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind on {statement!r} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1))


def main() -> None:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print(json.dumps({"valgrind": None}))
        return
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as cache:
        start_up = instructions("pass", valgrind, Path(cache))
        counts = {
            name: instructions(statement, valgrind, Path(cache)) - start_up
            for name, statement in (TARGETS | LIBRARIES).items()
        }
    print(json.dumps({"valgrind": valgrind, "start_up": start_up, "instructions": counts}))


if __name__ == "__main__":
    main()
