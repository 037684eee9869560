"""`make bench`: our design against the naive baseline on the same data, one table of figures.

Each phase runs in a fresh interpreter and hands back JSON (the method is in each module's docstring
and in docs/BENCHMARKS.md):

  pipeline   scripts/bench_pipeline.py   AWS requests per row; ingest and worker rows/s at 10 ms a request
  coldstart  scripts/bench_coldstart.py  import time of each handler against its baseline (printed
             beside the instructions, which decide the target: they repeat, the timed median does not)
  instructions scripts/bench_instructions.py  the same imports in instructions (callgrind), and the
             libraries' share of them
  queries    scripts/bench_queries.py    items read per row returned and rounds per page, at 100,000 rows
  writes     scripts/bench_writes.py     DynamoDB write units and storage per sent email, against the
             previous layout
  memory     scripts/bench_memory.py     peak RSS of the streaming ingest, 10k against 1M rows

The two phases that measure time run alone, one after the other; the others measure no time and run
side by side. The exit status is 1 if any figure misses its target. Raw results go to
build/bench/results.json.

    .venv/bin/python scripts/bench.py [--quick] [--details]
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python scripts/bench.py` puts scripts/, not the project, on the path
    sys.path.insert(0, str(ROOT))

from scripts.bench_report import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
