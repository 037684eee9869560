"""One Logger, Metrics and Tracer per Lambda, configured by Powertools' environment variables
(POWERTOOLS_SERVICE_NAME, POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL). Every module imports
these instead of building its own.

Email addresses never reach the logs in clear: the formatter masks anything address-shaped in the
final JSON line (messages, extra keys, exception text alike), keeping the first character and domain.
Message bodies and API keys are never passed to the logger in the first place.
"""

import logging
import re
import threading
from enum import StrEnum

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit

from campaign.domain.status import ErrorKind

# Metric names, defined once (terraform/dashboard.tf refers to the same names; tests/infra checks it).
METRIC_ROWS_ACCEPTED = "RowsAccepted"
METRIC_ROWS_SKIPPED = "RowsSkipped"
METRIC_ROWS_NOT_ENQUEUED = "RowsNotEnqueued"
# Rows whose message an earlier upload already accepted (within the deduplication window): not queued.
METRIC_ROWS_ALREADY_ACCEPTED = "RowsAlreadyAccepted"
METRIC_INGEST_DURATION = "IngestDuration"
METRIC_DUPLICATE_UPLOADS = "DuplicateUploads"
METRIC_EMAILS_SENT = "EmailsSent"
METRIC_EMAILS_FAILED = "EmailsFailed"
# Sends the worker stopped because their recipient was suppressed after the ingest queued them.
METRIC_EMAILS_SUPPRESSED = "EmailsSuppressed"
METRIC_SES_LATENCY = "SesLatency"
# Pace (the fleet's shared send rate): how long a send waited for its token, and messages put back on
# the queue, delayed, because no token was free within the invocation's time. The achieved send rate
# is EmailsSent per second (terraform/dashboard.tf computes it).
METRIC_TOKEN_WAIT = "SendTokenWait"
METRIC_SENDS_DEFERRED = "SendsDeferred"
# Providers: sends by the provider that took them, messages a provider certainly refused and handed
# to the next one, and circuit breakers opened (each has an alarm).
METRIC_EMAILS_SENT_VIA = "EmailsSentVia"
METRIC_SENDS_FAILED_OVER = "SendsFailedOver"
METRIC_BREAKER_OPENED = "BreakerOpened"
DIMENSION_PROVIDER = "provider"
DIMENSION_REASON = "reason"
DIMENSION_FAILURE_KIND = "kind"


class FailureKind(StrEnum):
    """EmailsFailed's `kind`: how one send attempt failed. A refusal and an unknown outcome end the row
    in the ErrorKind of that name; a transient failure is retried (ErrorKind.RETRIES_EXHAUSTED once
    the last receive fails too), so it is counted at every attempt under a kind of its own."""

    PERMANENT = ErrorKind.PERMANENT.value
    UNKNOWN_OUTCOME = ErrorKind.UNKNOWN_OUTCOME.value
    TRANSIENT = "transient"


_EMAIL = re.compile(r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})")


def mask_emails(text: str) -> str:
    return _EMAIL.sub(r"\1***@\2", text)


class MaskingFormatter(LambdaPowertoolsFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return mask_emails(super().format(record))


logger = Logger(logger_formatter=MaskingFormatter())
metrics = Metrics()
# Tracer patches botocore, so every AWS call is a subsegment; it is inert outside Lambda. Only botocore:
# by default it patches every library X-Ray supports that happens to be importable (httpx, requests…),
# importing each one at cold start for calls this code never makes.
tracer = Tracer(patch_modules=("botocore",))

# Metrics.add_metric reads, changes and writes back its metric set (and flushes it at 100 values)
# without a lock; the worker sends from several threads, so every metric goes through this one.
_metrics_lock = threading.Lock()


def add_metric(name: str, unit: MetricUnit, value: float) -> None:
    """Metrics.add_metric, safe to call from the worker's send threads."""
    with _metrics_lock:
        metrics.add_metric(name=name, unit=unit, value=value)
