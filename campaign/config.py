"""Settings read from the environment: the only module that reads os.environ.

NamedTuples rather than pydantic-settings keep the cold starts small (docs/DESIGN.md, "Cold start").
Each Lambda asks only for what it uses, so a missing variable fails at cold start, not mid-request.
"""

import os
from enum import StrEnum
from typing import NamedTuple, TypedDict

from campaign.caches import per_container
from campaign.domain.footer import DEFAULT_FOOTER
from campaign.domain.retention import Retention, validate
from campaign.limits import (
    DEFAULT_DEDUPE_WINDOW_DAYS,
    DEFAULT_MAX_RECEIVE_COUNT,
    DEFAULT_RETENTION_DAYS,
    ENQUEUE_DELAY_SECONDS,
)

# Environment variable names, defined once; Terraform sets exactly these (tests/infra checks it).
ENV_TABLE_NAME = "TABLE_NAME"
ENV_QUEUE_URL = "QUEUE_URL"
ENV_DLQ_URL = "DLQ_URL"
ENV_SEND_MODE = "SEND_MODE"
ENV_SENDER_ADDRESS = "SENDER_ADDRESS"
ENV_SES_CONFIGURATION_SET = "SES_CONFIGURATION_SET"
# The queue SES's delivery events arrive on (through SNS): the worker's second event source.
ENV_DELIVERY_EVENTS_QUEUE_ARN = "DELIVERY_EVENTS_QUEUE_ARN"
ENV_MAX_RECEIVE_COUNT = "MAX_RECEIVE_COUNT"
ENV_STAGE = "STAGE"
ENV_ENQUEUE_DELAY_SECONDS = "ENQUEUE_DELAY_SECONDS"
# Deployed: the key lives in Secrets Manager (ARN). Locally: the key itself.
ENV_API_KEY_SECRET_ARN = "API_KEY_SECRET_ARN"
ENV_API_KEY = "API_KEY"
# The bucket that large uploads go to (POST /uploads) and the streaming ingest reads from.
ENV_UPLOAD_BUCKET = "UPLOAD_BUCKET"
# Set by the Lambda runtime: the streaming ingest invokes itself to continue a long file.
ENV_LAMBDA_FUNCTION_NAME = "AWS_LAMBDA_FUNCTION_NAME"
# Comma-separated browser origins allowed to call the API; unset means CORS stays off.
ENV_CORS_ALLOW_ORIGINS = "CORS_ALLOW_ORIGINS"
# The public URL of POST /unsubscribe (each message's one-click link points at it), the key that signs
# its tokens (deployed: a Secrets Manager ARN; locally: the key itself), and the footer's wording
# ("{url}" is replaced by the link; unset or empty: the built-in wording; "off" leaves the footer out).
ENV_UNSUBSCRIBE_URL = "UNSUBSCRIBE_URL"
ENV_UNSUBSCRIBE_KEY_SECRET_ARN = "UNSUBSCRIBE_KEY_SECRET_ARN"
ENV_UNSUBSCRIBE_KEY = "UNSUBSCRIBE_KEY"
ENV_UNSUBSCRIBE_FOOTER = "UNSUBSCRIBE_FOOTER"
FOOTER_OFF = "off"
# Days a message key blocks a second send of the same message, and days rows and batches are kept.
ENV_DEDUPE_WINDOW_DAYS = "DEDUPE_WINDOW_DAYS"
ENV_RETENTION_DAYS = "RETENTION_DAYS"
# The SMTP provider (SEND_MODE names smtp): any relay (SendGrid, Mailgun, Postmark...), or locally the
# mailbox that `make run` starts (scripts/local/mailbox.py, on DEFAULT_SMTP_PORT unless told otherwise).
# Its credentials: deployed, a Secrets Manager secret holding {"username": ..., "password": ...};
# locally (and in tests) the two values themselves. Neither: no AUTH.
ENV_SMTP_HOST = "SMTP_HOST"
ENV_SMTP_PORT = "SMTP_PORT"
ENV_SMTP_TLS = "SMTP_TLS"
ENV_SMTP_SECRET_ARN = "SMTP_SECRET_ARN"
ENV_SMTP_USERNAME = "SMTP_USERNAME"
ENV_SMTP_PASSWORD = "SMTP_PASSWORD"
# A CA bundle to trust besides the system's (a relay with a private CA; the tests' own certificate).
ENV_SMTP_CA_FILE = "SMTP_CA_FILE"
DEFAULT_SMTP_HOST = "127.0.0.1"
DEFAULT_SMTP_PORT = 1025
# The fleet's send rate (emails per second, every worker together). Unset: the SES account's
# MaxSendRate (SESv2 GetAccount); set, the lower of the two wins. Without SES among the providers and
# without this setting, sends are not paced.
ENV_SEND_RATE_PER_SECOND = "SEND_RATE_PER_SECOND"
# SEND_MODE is either "dry-run" (rows become SENT, nothing is sent) or the providers to send through,
# in order, comma-separated ("ses", "smtp", "ses,smtp", "smtp,ses"): the first whose circuit breaker
# is closed sends; a provider that certainly refused a message hands it to the next.
DRY_RUN = "dry-run"


class Provider(StrEnum):
    SES = "ses"
    SMTP = "smtp"


class SmtpTls(StrEnum):
    """How the SMTP connection is encrypted: not at all (the local mailbox only; Terraform refuses it),
    upgraded with STARTTLS (port 587), or TLS from the first byte (implicit TLS, port 465)."""

    NONE = "none"
    STARTTLS = "starttls"
    IMPLICIT = "tls"


class SettingsError(RuntimeError):
    """A required setting is missing or malformed."""


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise SettingsError(f"environment variable {name} is required")
    return value


class UnsubscribeKey(NamedTuple):
    """Where the token key comes from: the key itself (local) or its secret's ARN (deployed)."""

    value: str | None
    secret_arn: str | None


class ApiSettings(NamedTuple):
    table_name: str
    stage: str
    retention: Retention
    queue_url: str
    dlq_url: str | None
    enqueue_delay_seconds: int
    upload_bucket: str
    api_key: str | None
    api_key_secret_arn: str | None
    cors_allow_origins: tuple[str, ...]
    # What checks the tokens of POST /unsubscribe.
    unsubscribe_key: UnsubscribeKey


class StreamIngestSettings(NamedTuple):
    table_name: str
    stage: str
    retention: Retention
    queue_url: str
    enqueue_delay_seconds: int
    upload_bucket: str
    function_name: str | None


class OperatorSettings(NamedTuple):
    """The re-drive scripts': the table and the queues, nothing of the API's (no key, no bucket)."""

    table_name: str
    stage: str
    retention: Retention
    queue_url: str
    dlq_url: str | None
    enqueue_delay_seconds: int


class CounterSettings(NamedTuple):
    """The stream consumer's: it only writes batch counts."""

    table_name: str
    stage: str
    retention: Retention


class SmtpCredentials(NamedTuple):
    """Where the relay's login comes from: the values themselves (local, tests) or a secret's ARN."""

    username: str | None
    password: str | None
    secret_arn: str | None


class SmtpServer(NamedTuple):
    host: str
    port: int
    tls: SmtpTls = SmtpTls.NONE
    credentials: SmtpCredentials = SmtpCredentials(None, None, None)
    ca_file: str | None = None


class WorkerSettings(NamedTuple):
    table_name: str
    stage: str
    retention: Retention
    # The providers in the order they are tried; empty in a dry run.
    providers: tuple[Provider, ...]
    # The send queue: the worker puts a message back on it, delayed, when it has no token to send it yet.
    queue_url: str
    # The configured cap on the fleet's send rate, if any (the account's own rate may be lower).
    send_rate_per_second: float | None
    sender_address: str | None
    configuration_set: str | None
    delivery_events_queue_arn: str | None
    unsubscribe_url: str | None
    unsubscribe_key: UnsubscribeKey
    # The footer's wording; empty when switched off.
    footer: str
    # Must equal the queue's redrive maxReceiveCount: on that receive the worker records ERROR
    # before SQS moves the message to the DLQ.
    max_receive_count: int
    # Where the smtp provider delivers; None when it is not one of the providers.
    smtp_server: SmtpServer | None


class _Common(TypedDict):
    table_name: str
    stage: str
    retention: Retention


def _common() -> _Common:
    return {
        "table_name": _required(ENV_TABLE_NAME),
        "stage": os.environ.get(ENV_STAGE, "local"),
        "retention": _retention(),
    }


def _days(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default)).strip()
    if not raw.isdigit():
        raise SettingsError(f"{name} must be a whole number of days")
    return int(raw)


def _retention() -> Retention:
    retention = Retention(
        dedupe_window_days=_days(ENV_DEDUPE_WINDOW_DAYS, DEFAULT_DEDUPE_WINDOW_DAYS),
        retention_days=_days(ENV_RETENTION_DAYS, DEFAULT_RETENTION_DAYS),
    )
    problem = validate(retention)
    if problem is not None:
        raise SettingsError(f"{ENV_DEDUPE_WINDOW_DAYS}/{ENV_RETENTION_DAYS}: {problem}")
    return retention


def _enqueue_delay() -> int:
    raw_delay = os.environ.get(ENV_ENQUEUE_DELAY_SECONDS, str(ENQUEUE_DELAY_SECONDS))
    if not raw_delay.isdigit() or int(raw_delay) > 900:
        raise SettingsError(f"{ENV_ENQUEUE_DELAY_SECONDS} must be an integer from 0 to 900 (SQS's limit)")
    return int(raw_delay)


@per_container
def api_settings() -> ApiSettings:
    delay = _enqueue_delay()
    api_key = os.environ.get(ENV_API_KEY) or None
    api_key_secret_arn = os.environ.get(ENV_API_KEY_SECRET_ARN) or None
    if api_key is None and api_key_secret_arn is None:
        raise SettingsError(f"set {ENV_API_KEY_SECRET_ARN} (deployed) or {ENV_API_KEY} (local): the API requires a key")
    key = unsubscribe_key()
    if key == UnsubscribeKey(None, None):
        raise SettingsError(
            f"set {ENV_UNSUBSCRIBE_KEY_SECRET_ARN} (deployed) or {ENV_UNSUBSCRIBE_KEY} (local): for unsubscribe links"
        )
    return ApiSettings(
        **_common(),
        queue_url=_required(ENV_QUEUE_URL),
        dlq_url=os.environ.get(ENV_DLQ_URL) or None,
        enqueue_delay_seconds=delay,
        upload_bucket=_required(ENV_UPLOAD_BUCKET),
        api_key=api_key,
        api_key_secret_arn=api_key_secret_arn,
        cors_allow_origins=tuple(
            origin.strip() for origin in os.environ.get(ENV_CORS_ALLOW_ORIGINS, "").split(",") if origin.strip()
        ),
        unsubscribe_key=key,
    )


@per_container
def stream_ingest_settings() -> StreamIngestSettings:
    return StreamIngestSettings(
        **_common(),
        queue_url=_required(ENV_QUEUE_URL),
        enqueue_delay_seconds=_enqueue_delay(),
        upload_bucket=_required(ENV_UPLOAD_BUCKET),
        function_name=os.environ.get(ENV_LAMBDA_FUNCTION_NAME) or None,
    )


def parse_send_mode(raw: str) -> tuple[Provider, ...]:
    """SEND_MODE's value: "dry-run" (no providers), or an order of distinct providers."""
    if raw.strip() == DRY_RUN:
        return ()
    names = [name.strip() for name in raw.split(",")]
    allowed = [provider.value for provider in Provider]
    if not all(name in allowed for name in names) or len(set(names)) != len(names):
        raise SettingsError(
            f"{ENV_SEND_MODE} must be {DRY_RUN!r} or providers in order, comma-separated, each once, from {allowed}"
        )
    return tuple(Provider(name) for name in names)


@per_container
def worker_settings() -> WorkerSettings:
    providers = parse_send_mode(os.environ.get(ENV_SEND_MODE, DRY_RUN))
    mode = os.environ.get(ENV_SEND_MODE, DRY_RUN)
    sender = os.environ.get(ENV_SENDER_ADDRESS) or None
    if providers and sender is None:
        raise SettingsError(f"{ENV_SENDER_ADDRESS} is required when {ENV_SEND_MODE}={mode}")
    raw_count = os.environ.get(ENV_MAX_RECEIVE_COUNT, str(DEFAULT_MAX_RECEIVE_COUNT))
    if not raw_count.isdigit() or int(raw_count) < 1:
        raise SettingsError(f"{ENV_MAX_RECEIVE_COUNT} must be a positive integer")
    key = unsubscribe_key()
    unsubscribe_url = os.environ.get(ENV_UNSUBSCRIBE_URL) or None
    if providers and (unsubscribe_url is None or key == UnsubscribeKey(None, None)):
        raise SettingsError(
            f"{ENV_UNSUBSCRIBE_URL} and {ENV_UNSUBSCRIBE_KEY_SECRET_ARN} (or {ENV_UNSUBSCRIBE_KEY} locally) are "
            f"required when {ENV_SEND_MODE}={mode}: every message carries a one-click unsubscribe link"
        )
    footer = os.environ.get(ENV_UNSUBSCRIBE_FOOTER, "").strip() or DEFAULT_FOOTER
    return WorkerSettings(
        **_common(),
        providers=providers,
        queue_url=_required(ENV_QUEUE_URL),
        send_rate_per_second=_send_rate(),
        sender_address=sender,
        configuration_set=os.environ.get(ENV_SES_CONFIGURATION_SET) or None,
        delivery_events_queue_arn=os.environ.get(ENV_DELIVERY_EVENTS_QUEUE_ARN) or None,
        max_receive_count=int(raw_count),
        unsubscribe_url=unsubscribe_url,
        unsubscribe_key=key,
        footer="" if footer.lower() == FOOTER_OFF else footer,
        smtp_server=_smtp_server() if Provider.SMTP in providers else None,
    )


def _send_rate() -> float | None:
    raw = os.environ.get(ENV_SEND_RATE_PER_SECOND, "").strip()
    if not raw:
        return None
    try:
        rate = float(raw)
    except ValueError:
        rate = 0.0
    if not 0 < rate < 1_000_000:
        raise SettingsError(f"{ENV_SEND_RATE_PER_SECOND} must be a positive number of emails per second")
    return rate


def _smtp_server() -> SmtpServer:
    raw_port = os.environ.get(ENV_SMTP_PORT, str(DEFAULT_SMTP_PORT)).strip()
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        raise SettingsError(f"{ENV_SMTP_PORT} must be a TCP port number (1-65535)")
    raw_tls = os.environ.get(ENV_SMTP_TLS, SmtpTls.NONE.value).strip()
    try:
        tls = SmtpTls(raw_tls)
    except ValueError as exc:
        raise SettingsError(f"{ENV_SMTP_TLS} must be one of {[t.value for t in SmtpTls]}") from exc
    credentials = SmtpCredentials(
        username=os.environ.get(ENV_SMTP_USERNAME) or None,
        password=os.environ.get(ENV_SMTP_PASSWORD) or None,
        secret_arn=os.environ.get(ENV_SMTP_SECRET_ARN) or None,
    )
    if (credentials.username is None) != (credentials.password is None):
        raise SettingsError(f"set both {ENV_SMTP_USERNAME} and {ENV_SMTP_PASSWORD}, or neither")
    return SmtpServer(
        os.environ.get(ENV_SMTP_HOST, "").strip() or DEFAULT_SMTP_HOST,
        int(raw_port),
        tls,
        credentials,
        os.environ.get(ENV_SMTP_CA_FILE) or None,
    )


def unsubscribe_key() -> UnsubscribeKey:
    return UnsubscribeKey(
        value=os.environ.get(ENV_UNSUBSCRIBE_KEY) or None,
        secret_arn=os.environ.get(ENV_UNSUBSCRIBE_KEY_SECRET_ARN) or None,
    )


def operator_settings() -> OperatorSettings:
    return OperatorSettings(
        **_common(),
        queue_url=_required(ENV_QUEUE_URL),
        dlq_url=os.environ.get(ENV_DLQ_URL) or None,
        enqueue_delay_seconds=_enqueue_delay(),
    )


@per_container
def counter_settings() -> CounterSettings:
    return CounterSettings(**_common())


def clear_settings_cache() -> None:
    """Tests change the environment between cases."""
    counter_settings.cache_clear()
    api_settings.cache_clear()
    worker_settings.cache_clear()
    stream_ingest_settings.cache_clear()
