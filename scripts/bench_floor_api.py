"""The libraries the API Lambda imports before any code of ours: the bare FastAPI + Strawberry +
Mangum app, boto3, and the Powertools utilities it uses (Logger, Metrics, Tracer, and the parameters
utility that reads the API key from Secrets Manager), built as campaign/observability.py builds them.
The secrets provider is imported, not built: app/auth.py builds it (and its client) on first use.

Imported (not run) by scripts/bench_coldstart.py: `import app.handler` against this splits the cold
start into what the libraries cost and what our own modules add.
"""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from scripts.bench_bare_app import handler

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))
__all__ = ["SecretsProvider", "boto3", "handler"]
