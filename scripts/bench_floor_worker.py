"""The libraries the worker Lambda imports before any code of ours: boto3 and the Powertools utilities
it uses, built as campaign/observability.py and worker/handler.py build them.

Imported (not run) by scripts/bench_coldstart.py: `import worker.handler` against this splits the
cold start into what the libraries cost and what our own modules add.
"""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))
processor = BatchProcessor(event_type=EventType.SQS)
__all__ = ["boto3", "process_partial_response"]
