"""`make bench`: our design against the naive baseline on the same data, one table of figures.

Each phase runs in a fresh interpreter and hands back JSON (the method is in each module's docstring
and in docs/BENCHMARKS.md):

  pipeline     scripts/bench/pipeline.py      AWS requests per row; ingest and worker rows/s at 10 ms a request
  coldstart    scripts/bench/coldstart.py     import time of each handler against its baseline (printed
               beside the instructions, which decide the target: they repeat, the timed median does not)
  instructions scripts/bench/instructions.py  the same imports in instructions (callgrind), and the
               libraries' share of them
  queries      scripts/bench/queries.py       items read per row returned and rounds per page, at 100,000 rows
  writes       scripts/bench/writes.py        DynamoDB write units and storage per sent email, against the
               previous layout
  memory       scripts/bench/memory.py        peak RSS of the streaming ingest, 10k against 1M rows
  pace         scripts/bench/pace.py          sends/s of one worker and of a fleet against a throttling SES

The two phases that measure time run alone, one after the other; the others measure no time and run
side by side. The exit status is 1 if any figure misses its target. Raw results go to
build/bench/results.json.

    .venv/bin/python -m scripts.bench [--quick] [--details]
"""

import sys

from scripts.bench.report import main

if __name__ == "__main__":
    sys.exit(main())
