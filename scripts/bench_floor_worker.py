"""The libraries the worker Lambda imports before any code of ours: boto3 and the Powertools utilities
it uses, built as campaign/observability.py builds them.

Imported (not run) by scripts/bench_coldstart.py: `import worker.handler` against this splits the
cold start into what the libraries cost and what our own modules add.
"""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))
__all__ = ["boto3"]
