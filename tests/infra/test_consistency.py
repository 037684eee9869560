"""terraform/ held against the code: settings, table, queues, upload bucket, timeouts, event sources, names,
routes."""

import ast
import importlib
import importlib.util
import itertools
import json
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aws_lambda_powertools.shared.constants import METRICS_NAMESPACE_ENV, POWERTOOLS_LOG_LEVEL_ENV, SERVICE_NAME_ENV
from botocore.config import Config
from fastapi import FastAPI
from mangum import Mangum

import campaign.config as config
from app.main import create_app
from campaign.aws.queue_spec import dlq_attributes, queue_attributes
from campaign.aws.send_rows import SendRows
from campaign.aws.table_schema import (
    BATCH_PREFIX,
    BODY_PREFIX,
    COUNTS_PREFIX,
    MESSAGE_PREFIX,
    PARTITION_KEY,
    SEND_PREFIX,
    create_table_request,
    time_to_live_request,
)
from campaign.aws.upload_store import UPLOAD_PREFIX, UPLOAD_SUFFIX, UploadStore
from campaign.domain.delivery import DeliveryEvent
from campaign.domain.ids import batch_id_for, send_id_for
from campaign.domain.retention import Retention
from campaign.domain.status import DeliveryOutcome
from campaign.limits import (
    DEFAULT_DEDUPE_WINDOW_DAYS,
    DEFAULT_MAX_RECEIVE_COUNT,
    DEFAULT_RETENTION_DAYS,
    ENQUEUE_DELAY_SECONDS,
    INGEST_LEASE_SECONDS,
    STREAM_CONTINUE_MARGIN_SECONDS,
    STREAM_INGEST_TIMEOUT_SECONDS,
    WORKER_BATCH_SIZE,
    WORKER_INSTANCE_SENDS_PER_SECOND,
    WORKER_SEND_MARGIN_SECONDS,
    WORKER_TIMEOUT_SECONDS,
)
from campaign.services.count_changes import count_changes
from campaign.services.ingest import ingest_csv, ingest_gateways_for
from scripts.local.provision import LocalResources, resource_names, upload_bucket_name
from scripts.local.sqs_poller import LocalLambdaContext
from scripts.local.stream_poller import STREAM_BATCH_SIZE
from tests.infra.allowlists import LOCAL_ONLY_ENV, PENDING, RUNTIME_ENV
from tests.infra.terraform import MODULES_DIR, STAGES, Ref, call_argument, hcl_object, load, reference
from tests.infra.test_private_bucket import private_bucket_call
from tests.support.apigw import http_api_event

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_MODULE = MODULES_DIR / "lambda_function"
SETTINGS: dict[str, Callable[[], object]] = {
    "ingestor": config.api_settings,
    "worker": config.worker_settings,
    "stream_ingest": config.stream_ingest_settings,
    "counts": config.counter_settings,
}
# The package (var.<name>_zip) each function is deployed from: the streaming ingest and the stream
# consumer ship in the worker's.
PACKAGE = {"ingestor": "ingestor", "worker": "worker", "stream_ingest": "worker", "counts": "worker"}
# Every Lambda configures Powertools' Logger and Metrics (campaign/observability.py) through these; the
# names are Powertools' own constants.
POWERTOOLS_ENV = frozenset({SERVICE_NAME_ENV, POWERTOOLS_LOG_LEVEL_ENV, METRICS_NAMESPACE_ENV})
# API Gateway's HTTP API integration timeout.
HTTP_API_TIMEOUT_SECONDS = 30


# ---------------------------------------------------------------------------------------------------
# Environment variables
# ---------------------------------------------------------------------------------------------------


class _RecordingEnviron(dict[str, str]):
    """os.environ stand-in that remembers every name looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def _declared_names() -> set[str]:
    return {getattr(config, name) for name in dir(config) if name.startswith("ENV_")}


def _valid_environment() -> dict[str, str]:
    """A value for every declared name that the settings accept (both providers and a rate, so every branch reads)."""
    return dict.fromkeys(_declared_names(), "x") | {
        config.ENV_SEND_MODE: f"{config.Provider.SES},{config.Provider.SMTP}",
        config.ENV_SMTP_PORT: "587",
        config.ENV_SMTP_TLS: config.SmtpTls.STARTTLS.value,
        config.ENV_SEND_RATE_PER_SECOND: "14",
        config.ENV_SENDER_ADDRESS: "campaigns@example.com",
        config.ENV_MAX_RECEIVE_COUNT: str(DEFAULT_MAX_RECEIVE_COUNT),
        config.ENV_ENQUEUE_DELAY_SECONDS: str(ENQUEUE_DELAY_SECONDS),
        config.ENV_DEDUPE_WINDOW_DAYS: str(DEFAULT_DEDUPE_WINDOW_DAYS),
        config.ENV_RETENTION_DAYS: str(DEFAULT_RETENTION_DAYS),
    }


def _load_settings(function: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Build the function's settings from `env` alone; returns the names the code looked up."""
    environ = _RecordingEnviron(env)
    monkeypatch.setattr(config, "os", SimpleNamespace(environ=environ))
    config.clear_settings_cache()
    try:
        SETTINGS[function]()
    finally:
        config.clear_settings_cache()
    return environ.read


def _lambda_environment(function: str, stage: str, **overrides: Any) -> dict[str, Any]:
    """The function's environment in the stage (with these variables set as -var would)."""
    variables = load().function(function)["environment_variables"]
    evaluated: dict[str, Any] = load().evaluator(stage, overrides=overrides).value(variables)
    return evaluated


# Variables that switch on the worker's optional settings: both providers (so the SMTP relay's), and a
# fleet rate.
SMTP_AND_RATE = {"send_mode": "ses,smtp", "smtp_host": "smtp.example.com", "send_rate_per_second": 14}


def _source_files() -> Iterator[Path]:
    for package in ("app", "worker", "campaign"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if "local" not in path.relative_to(ROOT).parts:
                yield path


def test_only_campaign_config_reads_the_environment() -> None:
    # Given every module that is deployed
    readers = []
    for path in _source_files():
        if path == ROOT / "campaign" / "config.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                readers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    # Then none reads os.environ itself, so campaign/config.py is the whole list of settings
    assert readers == []


def test_every_lambda_is_held_to_its_settings() -> None:
    # Given the Lambda functions of the Terraform
    functions = set(load().functions)
    # Then each has its settings and its package here, and no settings or package lacks a function
    assert functions == set(SETTINGS) == set(PACKAGE)


def test_settings_read_exactly_the_declared_names(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a valid environment for every function
    # When every settings object is built (the worker's with both providers, so every branch reads)
    read = set().union(*(_load_settings(f, _valid_environment(), monkeypatch) for f in SETTINGS))
    # Then they read every ENV_* name of campaign/config.py and nothing else
    assert read == _declared_names()


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_lambda_gets_exactly_the_variables_its_code_reads(function: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the names the function's settings look up
    read = _load_settings(function, _valid_environment(), monkeypatch)
    pending = PENDING.get(function, {}).get("env", frozenset())
    local_only = LOCAL_ONLY_ENV.get(function, frozenset())
    runtime = RUNTIME_ENV.get(function, frozenset())
    assert not pending & read, "the code reads these now: remove them from PENDING"
    assert runtime <= read, "the code no longer reads these: remove them from RUNTIME_ENV"
    # When Terraform's environment block is read (every entry, including those set only under a condition)
    declared = set(load().lambda_variables(function))
    # Then it sets every one of them (but the local-only and runtime-set ones), Powertools' and the pending
    # ones, no other
    assert declared == (read - local_only - runtime) | POWERTOOLS_ENV | pending


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_code_accepts_the_terraform_environment(function: str, stage: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the environment Terraform gives the function in this stage (references as placeholders)
    env = {
        name: f"<{value.address}>" if isinstance(value, Ref) else value
        for name, value in _lambda_environment(function, stage).items()
    }
    # And the function's own name, which the Lambda runtime adds
    if config.ENV_LAMBDA_FUNCTION_NAME in RUNTIME_ENV.get(function, frozenset()):
        env[config.ENV_LAMBDA_FUNCTION_NAME] = load().function_name(function, stage)
    # When the function's settings are built from it, then they load (no SettingsError at cold start)
    _load_settings(function, env, monkeypatch)


@pytest.mark.parametrize("stage", STAGES)
def test_worker_accepts_the_terraform_environment_with_the_smtp_relay_and_a_rate(
    stage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the worker's environment when send_mode names smtp and a fleet rate is set
    env = {
        name: f"<{value.address}>" if isinstance(value, Ref) else value
        for name, value in _lambda_environment("worker", stage, **SMTP_AND_RATE).items()
    }
    # When its settings are built from it (they load: no SettingsError)
    _load_settings("worker", env, monkeypatch)
    # Then the environment names the relay's secret and host, over TLS, the rate, and both providers
    assert env[config.ENV_SMTP_SECRET_ARN] == "<aws_secretsmanager_secret.smtp[0].arn>"
    assert env[config.ENV_SMTP_HOST] == SMTP_AND_RATE["smtp_host"]
    assert env[config.ENV_SMTP_TLS] != config.SmtpTls.NONE.value
    assert float(env[config.ENV_SEND_RATE_PER_SECOND]) == SMTP_AND_RATE["send_rate_per_second"]
    assert config.parse_send_mode(env[config.ENV_SEND_MODE]) == (config.Provider.SES, config.Provider.SMTP)


@pytest.mark.parametrize("stage", STAGES)
def test_optional_worker_settings_are_set_only_when_used(stage: str) -> None:
    # Given every mode and rate, and the relay's settings
    smtp = {config.ENV_SMTP_HOST, config.ENV_SMTP_PORT, config.ENV_SMTP_TLS, config.ENV_SMTP_SECRET_ARN}
    for mode in _send_modes():
        providers = config.parse_send_mode(mode)
        for rate in (None, 14):
            overrides = {"send_mode": mode, "smtp_host": "smtp.example.com", "send_rate_per_second": rate}
            names = set(_lambda_environment("worker", stage, **overrides))
            # Then the relay's settings come with smtp, all or none, and the rate only when it is set
            assert (smtp <= names) == (config.Provider.SMTP in providers), mode
            assert not (smtp & names) or smtp <= names
            assert (config.ENV_SEND_RATE_PER_SECOND in names) == (rate is not None)
            # And the relay's secret exists exactly when its ARN is set
            evaluator = load().evaluator(stage, overrides=overrides)
            count = evaluator.value(load().resource("aws_secretsmanager_secret", "smtp")["count"])
            assert count == (1 if config.Provider.SMTP in providers else 0), mode


def test_smtp_secret_holds_no_value_in_terraform() -> None:
    # Given the secret versions of the Terraform (the operator puts the relay's login: put-secret-value)
    versions = load().resources.get("aws_secretsmanager_secret_version", {})
    # Then none is the relay's, and the relay's secret is an output for the operator to fill
    assert not [v for v in versions.values() if "smtp" in str(v["secret_id"])]
    assert load().outputs["smtp_secret_arn"]["value"] == "${one(aws_secretsmanager_secret.smtp[*].arn)}"


@pytest.mark.parametrize("stage", STAGES)
def test_environment_points_at_the_right_resources(stage: str) -> None:
    # Given the environment Terraform gives each function in this stage, and the queue's redrive policy
    ingestor, worker = _lambda_environment("ingestor", stage), _lambda_environment("worker", stage)
    counts = _lambda_environment("counts", stage)
    sends, sends_evaluator = load().call_evaluator("sends", stage)
    redrive = hcl_object(call_argument(sends.resource("aws_sqs_queue", "this")["redrive_policy"], "jsonencode"))
    evaluator = load().evaluator(stage)
    # Then the functions use the one table, the ingestor the send queue, the worker the redrive count
    for env in (ingestor, worker, counts):
        assert env[config.ENV_TABLE_NAME] == Ref("aws_dynamodb_table.this.name")
        assert env[config.ENV_STAGE] == stage
    assert ingestor[config.ENV_QUEUE_URL] == Ref("module.sends.url")
    # The worker puts deferred sends back on the queue it consumes
    assert worker[config.ENV_QUEUE_URL] == Ref("module.sends.url")
    assert ingestor[config.ENV_API_KEY_SECRET_ARN] == Ref("aws_secretsmanager_secret.api_key.arn")
    for env in (ingestor, worker, counts):
        assert env[METRICS_NAMESPACE_ENV] == evaluator.value("${local.metrics_namespace}")
    assert ingestor[config.ENV_DLQ_URL] == Ref("module.sends.dlq_url")
    assert worker[config.ENV_MAX_RECEIVE_COUNT] == str(sends_evaluator.value(redrive["maxReceiveCount"]))
    assert worker[config.ENV_SES_CONFIGURATION_SET] == Ref("aws_sesv2_configuration_set.this.configuration_set_name")
    assert worker[config.ENV_SENDER_ADDRESS] == evaluator.value("${local.sender_address}")


@pytest.mark.parametrize("stage", STAGES)
def test_streaming_ingest_shares_the_ingestors_table_queue_delay_and_bucket(stage: str) -> None:
    # Given the environment of the ingestor and of the streaming ingest in this stage
    ingestor, stream = _lambda_environment("ingestor", stage), _lambda_environment("stream_ingest", stage)
    # Then the large-upload path writes where the direct path writes, and reads where the API signs PUTs
    for name in (config.ENV_TABLE_NAME, config.ENV_STAGE, config.ENV_QUEUE_URL, config.ENV_ENQUEUE_DELAY_SECONDS):
        assert stream[name] == ingestor[name], name
    assert stream[config.ENV_UPLOAD_BUCKET] == ingestor[config.ENV_UPLOAD_BUCKET] == Ref("aws_s3_bucket.uploads.bucket")
    assert stream[METRICS_NAMESPACE_ENV] == load().evaluator(stage).value("${local.metrics_namespace}")


@pytest.mark.parametrize("stage", STAGES)
def test_every_lambda_keeps_the_same_retention(stage: str) -> None:
    # Given the retention each function gets (the ingests write the expiry times, the consumer and the
    # worker build the same settings)
    variables = load().evaluator(stage).variables
    expected = {
        config.ENV_DEDUPE_WINDOW_DAYS: str(variables["dedupe_window_days"]),
        config.ENV_RETENTION_DAYS: str(variables["retention_days"]),
    }
    # Then every function that reads them gets the stage's two variables, unchanged
    for function in SETTINGS:
        env = _lambda_environment(function, stage)
        assert {name: env[name] for name in expected} == expected, function


def test_variable_defaults_match_the_code() -> None:
    # Given the Terraform variables
    variables = load().variables
    # Then their defaults are the code's own
    assert variables["max_receive_count"]["default"] == DEFAULT_MAX_RECEIVE_COUNT
    assert variables["enqueue_delay_seconds"]["default"] == ENQUEUE_DELAY_SECONDS
    assert variables["dedupe_window_days"]["default"] == DEFAULT_DEDUPE_WINDOW_DAYS
    assert variables["retention_days"]["default"] == DEFAULT_RETENTION_DAYS
    assert variables["send_mode"]["default"] == config.DRY_RUN
    assert variables["smtp_tls"]["default"] == config.SmtpTls.STARTTLS.value
    assert variables["send_rate_per_second"]["default"] is None


def _allowed_values(variable: str, validation: int = 0) -> list[str]:
    """The list of `contains([...], var.x)` in the variable's validation."""
    condition = load().variables[variable]["validation"][validation]["condition"]
    allowed: list[str] = json.loads(re.search(r"contains\((\[.*?\])", condition).group(1))  # type: ignore[union-attr]
    return allowed


def _send_modes() -> list[str]:
    """Every SEND_MODE the worker accepts, as Terraform writes it: dry-run, or an order of distinct providers."""
    providers = [provider.value for provider in config.Provider]
    orders = [
        ",".join(order) for size in range(1, len(providers) + 1) for order in itertools.permutations(providers, size)
    ]
    return [config.DRY_RUN, *orders]


def test_send_mode_validation_lists_exactly_the_modes_the_worker_accepts() -> None:
    # Given every mode the worker accepts (dry-run, each order of distinct providers)
    modes = _send_modes()
    assert all(config.parse_send_mode(mode) is not None for mode in modes)
    # Then the validation accepts those and nothing else (no repeated provider, no unknown one)
    assert sorted(_allowed_values("send_mode")) == sorted(modes)
    with pytest.raises(config.SettingsError):
        config.parse_send_mode(f"{config.Provider.SES},{config.Provider.SES}")


def test_smtp_variables_refuse_what_the_relay_must_not_be() -> None:
    # Given the Terraform variables of the relay and the rate
    variables = load().variables
    # Then smtp_tls accepts every encryption the worker knows but none, which only the local mailbox speaks
    refuse_none, _known = variables["smtp_tls"]["validation"]
    assert refuse_none["condition"] == '${var.smtp_tls != "none"}'
    assert config.SmtpTls.NONE.value == "none" and "local mailbox" in refuse_none["error_message"]
    assert sorted(_allowed_values("smtp_tls", 1)) == sorted(t.value for t in config.SmtpTls if t != config.SmtpTls.NONE)
    # And smtp_host is required once send_mode names smtp
    required, _form = variables["smtp_host"]["validation"]
    assert required["condition"] == '${var.smtp_host != null || !contains(split(",", var.send_mode), "smtp")}'
    # And smtp_port is a TCP port, 587 (STARTTLS's submission port) by default
    assert (variables["smtp_port"]["type"], variables["smtp_port"]["default"]) == ("number", 587)
    # And send_rate_per_second is unset, or a positive rate the worker accepts
    (rate,) = variables["send_rate_per_second"]["validation"]
    assert rate["condition"].startswith("${var.send_rate_per_second == null || ")
    assert "> 0" in rate["condition"]


def test_every_variable_is_typed_and_described() -> None:
    # Given the Terraform variables
    # Then each has a type and a description
    for name, spec in load().variables.items():
        assert spec.get("type") and spec.get("description"), name


def test_retention_variables_refuse_what_the_code_refuses() -> None:
    # Given the checks campaign.domain.retention.validate makes at cold start: each at least a day, in
    # whole days, and the window no longer than the retention
    variables = load().variables
    (window,) = [v["condition"] for v in variables["dedupe_window_days"]["validation"]]
    (retention,) = [v["condition"] for v in variables["retention_days"]["validation"]]
    # Then Terraform refuses them at plan time, before a function would fail to start
    assert "var.dedupe_window_days >= 1 " in window and "var.retention_days >= 1 " in retention
    assert "floor(var.dedupe_window_days) == var.dedupe_window_days" in window
    assert "floor(var.retention_days) == var.retention_days" in retention
    assert "var.dedupe_window_days <= var.retention_days" in window
    # And the defaults pass them
    assert 1 <= DEFAULT_DEDUPE_WINDOW_DAYS <= DEFAULT_RETENTION_DAYS


# ---------------------------------------------------------------------------------------------------
# Table, queues, names
# ---------------------------------------------------------------------------------------------------


def _key_schema(hash_key: str, range_key: str | None) -> list[dict[str, str]]:
    keys = [{"AttributeName": hash_key, "KeyType": "HASH"}]
    return keys + ([{"AttributeName": range_key, "KeyType": "RANGE"}] if range_key else [])


def _projection(index: dict[str, Any], evaluator: Any) -> dict[str, Any]:
    """An index's projection in CreateTable's terms; the non-key attributes are a set (sorted here)."""
    projection: dict[str, Any] = {"ProjectionType": index["projection_type"]}
    if "non_key_attributes" in index:
        projection["NonKeyAttributes"] = sorted(evaluator.value(index["non_key_attributes"]))
    return projection


@pytest.mark.parametrize("stage", STAGES)
def test_table_matches_create_table_request(stage: str) -> None:
    # Given the Terraform table, written in CreateTable's terms
    table = load().resource("aws_dynamodb_table", "this")
    evaluator = load().evaluator(stage)
    declared = {
        "TableName": evaluator.value(table["name"]),
        "BillingMode": table["billing_mode"],
        "KeySchema": _key_schema(table["hash_key"], table.get("range_key")),
        "AttributeDefinitions": sorted(
            ({"AttributeName": a["name"], "AttributeType": a["type"]} for a in table["attribute"]),
            key=lambda a: a["AttributeName"],
        ),
        "GlobalSecondaryIndexes": sorted(
            (
                {
                    "IndexName": index["name"],
                    "KeySchema": _key_schema(index["hash_key"], index.get("range_key")),
                    "Projection": _projection(index, evaluator),
                }
                for index in table["global_secondary_index"]
            ),
            key=lambda i: i["IndexName"],
        ),
        "StreamSpecification": {"StreamEnabled": table["stream_enabled"], "StreamViewType": table["stream_view_type"]},
    }
    (ttl,) = table["ttl"]
    declared_ttl = {
        "TableName": declared["TableName"],
        "TimeToLiveSpecification": {"Enabled": ttl["enabled"], "AttributeName": ttl["attribute_name"]},
    }
    # When the code's definition is sorted the same way
    expected = create_table_request(resource_names(stage)[0])
    expected["AttributeDefinitions"].sort(key=lambda a: a["AttributeName"])
    expected["GlobalSecondaryIndexes"].sort(key=lambda i: i["IndexName"])
    for index in expected["GlobalSecondaryIndexes"]:
        index["Projection"]["NonKeyAttributes"] = sorted(index["Projection"].get("NonKeyAttributes", []))
        if not index["Projection"]["NonKeyAttributes"]:
            del index["Projection"]["NonKeyAttributes"]
    # Then they are the same table, with the same stream and the same time to live
    assert declared == expected
    assert declared_ttl == time_to_live_request(declared["TableName"])


@pytest.mark.parametrize("stage", STAGES)
def test_table_is_protected(stage: str) -> None:
    # Given the Terraform's table
    table = load().resource("aws_dynamodb_table", "this")
    # Then it is backed up and encrypted, and cannot be deleted in prod
    assert table["point_in_time_recovery"][0]["enabled"] is True
    assert table["server_side_encryption"][0]["enabled"] is True
    assert load().evaluator(stage).value(table["deletion_protection_enabled"]) is (stage == "prod")


@pytest.mark.parametrize("call", ["sends", "ses_events"])
@pytest.mark.parametrize("stage", STAGES)
def test_queues_match_queue_spec(stage: str, call: str) -> None:
    # Given a queue and its DLQ as modules/queue_with_dlq declares them for the call, written as SQS attributes
    module, evaluator = load().call_evaluator(call, stage)
    queue, dlq = module.resource("aws_sqs_queue", "this"), module.resource("aws_sqs_queue", "dlq")
    redrive = hcl_object(call_argument(queue["redrive_policy"], "jsonencode"))
    assert reference(redrive["deadLetterTargetArn"]) == "aws_sqs_queue.dlq.arn"
    max_receive_count = evaluator.value(redrive["maxReceiveCount"])
    declared_queue = {
        "VisibilityTimeout": str(evaluator.value(queue["visibility_timeout_seconds"])),
        "MessageRetentionPeriod": str(evaluator.value(queue["message_retention_seconds"])),
        "SqsManagedSseEnabled": str(queue["sqs_managed_sse_enabled"]).lower(),
        "RedrivePolicy": {"deadLetterTargetArn": "<dlq>", "maxReceiveCount": str(max_receive_count)},
    }
    declared_dlq = {
        "MessageRetentionPeriod": str(evaluator.value(dlq["message_retention_seconds"])),
        "SqsManagedSseEnabled": str(dlq["sqs_managed_sse_enabled"]).lower(),
    }
    # When the code's attributes are built for the same redrive count
    expected_queue = queue_attributes("<dlq>", max_receive_count)
    expected_queue["RedrivePolicy"] = json.loads(expected_queue["RedrivePolicy"])
    # Then they agree
    assert declared_queue == expected_queue
    assert declared_dlq == dlq_attributes()


def test_only_the_send_queue_may_dead_letter_into_its_dlq() -> None:
    # Given the module's redrive allow policy and the two calls of modules/queue_with_dlq
    module = load(MODULES_DIR / "queue_with_dlq")
    allow = module.resource("aws_sqs_queue_redrive_allow_policy", "dlq")
    policy = hcl_object(call_argument(allow["redrive_allow_policy"], "jsonencode"))
    # Then, where a call asks for it (the sends'), the DLQ admits dead letters from its own queue only
    assert allow["count"] == "${var.dlq_only_for_this_queue ? 1 : 0}"
    assert reference(allow["queue_url"]) == "aws_sqs_queue.dlq.id"
    assert policy["redrivePermission"] == "byQueue"
    assert [reference(arn) for arn in policy["sourceQueueArns"]] == ["aws_sqs_queue.this.arn"]
    assert load().modules["sends"]["dlq_only_for_this_queue"] is True
    assert load().modules["ses_events"]["dlq_only_for_this_queue"] is False


def test_queue_module_outputs_name_the_queue_and_its_dlq() -> None:
    # Given the outputs of modules/queue_with_dlq, which the stack's references go through
    outputs = load(MODULES_DIR / "queue_with_dlq").outputs
    # Then each is the attribute its name says, of the queue or of the DLQ
    assert {name: reference(output["value"]) for name, output in outputs.items()} == {
        "arn": "aws_sqs_queue.this.arn",
        "url": "aws_sqs_queue.this.url",
        "name": "aws_sqs_queue.this.name",
        "dlq_arn": "aws_sqs_queue.dlq.arn",
        "dlq_url": "aws_sqs_queue.dlq.url",
        "dlq_name": "aws_sqs_queue.dlq.name",
    }


@pytest.mark.parametrize("stage", STAGES)
def test_resource_names_follow_the_local_stack_pattern(stage: str) -> None:
    # Given the names Terraform gives the table and the queues in this stage
    evaluator = load().evaluator(stage)
    sends, sends_evaluator = load().call_evaluator("sends", stage)
    names = (
        evaluator.value(load().resource("aws_dynamodb_table", "this")["name"]),
        *(sends_evaluator.value(sends.resource("aws_sqs_queue", name)["name"]) for name in ("this", "dlq")),
    )
    # Then they are the local stack's names
    assert names == resource_names(stage)
    # And the upload bucket adds the account id to the local stack's name: bucket names are global
    bucket = evaluator.value(load().resource("aws_s3_bucket", "uploads")["bucket"])
    assert bucket == f"{upload_bucket_name(stage)}-{Ref('data.aws_caller_identity.current.account_id')}"
    assert len(f"{upload_bucket_name(stage)}-123456789012") <= 63  # S3's limit


# ---------------------------------------------------------------------------------------------------
# Lambdas and the event source
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stage", STAGES)
def test_timeouts_match_the_code(stage: str) -> None:
    # Given the functions' timeouts and the send queue's visibility timeout in this stage
    evaluator = load().evaluator(stage)
    worker = load().function("worker")
    ingestor = load().function("ingestor")
    sends, sends_evaluator = load().call_evaluator("sends", stage)
    visibility = sends_evaluator.value(sends.resource("aws_sqs_queue", "this")["visibility_timeout_seconds"])
    worker_timeout = evaluator.value(worker["timeout"])
    ingestor_timeout = evaluator.value(ingestor["timeout"])
    # Then the worker's timeout is the one its stale-claim rule assumes, and the queue hides messages 6x as long.
    assert worker_timeout == WORKER_TIMEOUT_SECONDS
    assert visibility >= 6 * worker_timeout
    # And the ingestor ends before API Gateway gives up, and well before its batch lease lapses.
    assert ingestor_timeout < HTTP_API_TIMEOUT_SECONDS
    assert ingestor_timeout < INGEST_LEASE_SECONDS
    # And the streaming ingest runs as long as its code budgets for, with room left for its hand-over margin.
    stream_timeout = evaluator.value(load().function("stream_ingest")["timeout"])
    assert stream_timeout == STREAM_INGEST_TIMEOUT_SECONDS
    assert stream_timeout > STREAM_CONTINUE_MARGIN_SECONDS


@pytest.mark.parametrize("stage", STAGES)
def test_stream_mapping_feeds_the_counts_consumer_from_the_start_of_the_stream(stage: str) -> None:
    # Given the counts consumer's event source mapping in this stage
    config_ = load()
    evaluator = config_.evaluator(stage)
    mapping = config_.resource("aws_lambda_event_source_mapping", "counts")
    # Then the consumer reads the table's stream, from its oldest record, in the local poller's batches
    assert reference(mapping["event_source_arn"]) == "aws_dynamodb_table.this.stream_arn"
    assert reference(mapping["function_name"]) == "module.counts.arn"
    assert mapping["starting_position"] == "TRIM_HORIZON"
    assert evaluator.value(mapping["batch_size"]) == STREAM_BATCH_SIZE
    assert 0 <= evaluator.value(mapping["maximum_batching_window_in_seconds"]) <= 300
    # And a delivery that keeps failing is retried a bounded number of times, never split (a half would
    # get another transaction token), then set aside in its own encrypted queue instead of blocking the shard
    assert 0 <= evaluator.value(mapping["maximum_retry_attempts"]) <= 100
    assert mapping["bisect_batch_on_function_error"] is False
    (on_failure,) = mapping["destination_config"][0]["on_failure"]
    assert reference(on_failure["destination_arn"]) == "aws_sqs_queue.counts_failures.arn"
    queue = config_.resource("aws_sqs_queue", "counts_failures")
    assert queue["sqs_managed_sse_enabled"] is True
    assert str(evaluator.value(queue["message_retention_seconds"])) == dlq_attributes()["MessageRetentionPeriod"]
    assert mapping["depends_on"] == ["${module.counts}"]


def _matches(pattern: Any, value: Any) -> bool:
    """Lambda event filtering, for the rules a pattern here may use: nested keys, and a list of
    alternatives that are exact values or {"prefix": ...}."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and _matches(p, value[k]) for k, p in pattern.items())
    if isinstance(pattern, list):
        for rule in pattern:
            if isinstance(rule, dict):
                ((operator, operand),) = rule.items()
                if operator != "prefix":
                    raise AssertionError(f"the filter uses {operator}, which this test does not evaluate")
                if isinstance(value, str) and value.startswith(operand):
                    return True
            elif rule == value:
                return True
        return False
    raise AssertionError(f"not an event pattern: {pattern!r}")


def test_stream_filter_passes_every_record_that_changes_counts_and_only_send_rows(
    stack: LocalResources, drain: Callable[[], object]
) -> None:
    # Given the stream records of a real upload, its sends and an SES event: batch, counts, message-key,
    # body and row items
    long_body = "Hello " + "x" * 2000  # stored apart from its rows, once for the two that share it
    rows = f"ada@example.com,Hi,Hello Ada\nbob@example.com,Hi,{long_body}\ncy@example.com,Hi,{long_body}\n"
    content = f"email,subject,content\n{rows}".encode()
    retention = Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)
    assert ingest_csv(content, ingest_gateways_for(stack.table_name, stack.queue_url, 0, retention)).enqueued == 3
    drain()
    ada = send_id_for(batch_id_for(content), "ada@example.com")
    delivered = DeliveryEvent(ada, DeliveryOutcome.DELIVERED, "2026-11-29T12:00:00.000Z", ("ada@example.com",))
    assert SendRows(stack.table_name).record_delivery(delivered).updated is not None
    records = _stream_records(stack.table_name)
    # When the mapping's filter is applied to each
    mapping = load().resource("aws_lambda_event_source_mapping", "counts")
    (criteria,) = mapping["filter_criteria"]
    patterns = [hcl_object(call_argument(f["pattern"], "jsonencode")) for f in criteria["filter"]]
    kept = [r for r in records if any(_matches(p, r) for p in patterns)]
    dropped = [r for r in records if r not in kept]
    # Then it keeps the send rows' changes, drops the rest, and nothing dropped would have changed a count
    prefixes = {r["dynamodb"]["Keys"][PARTITION_KEY]["S"].split("#")[0] + "#" for r in dropped}
    assert prefixes == {BATCH_PREFIX, BODY_PREFIX, COUNTS_PREFIX, MESSAGE_PREFIX}
    assert kept
    assert all(r["dynamodb"]["Keys"][PARTITION_KEY]["S"].startswith(SEND_PREFIX) for r in kept)
    assert count_changes(dropped) == {}
    assert count_changes(kept)
    # including a change of the delivery outcome alone, which counts the row as delivered
    (outcome_only,) = [r for r in kept if "delivery" in r["dynamodb"].get("NewImage", {})]
    assert outcome_only["eventName"] == "MODIFY"
    assert count_changes([outcome_only])[batch_id_for(content)].delivered == 1


def _stream_records(table_name: str) -> list[dict[str, Any]]:
    """Every record the table's stream holds, read as the mapping reads it."""
    ddb = boto3.client("dynamodb")
    streams = boto3.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled"))
    arn = ddb.describe_table(TableName=table_name)["Table"]["LatestStreamArn"]
    records: list[dict[str, Any]] = []
    for shard in streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON")
        response = streams.get_records(ShardIterator=iterator["ShardIterator"])
        while response["Records"]:
            records += response["Records"]
            response = streams.get_records(ShardIterator=response["NextShardIterator"])
    return records


def test_event_source_mapping_matches_the_worker_contract() -> None:
    # Given the worker's event source mapping
    mapping = load().resource("aws_lambda_event_source_mapping", "worker")
    evaluator = load().evaluator("prod")
    sources = evaluator.value("${local.worker_event_sources}")
    # Then it feeds the worker from the send queue and from SES's delivery events, in the code's batches,
    # failing messages one by one, with a batching window; the sends with the concurrency the rate needs
    assert mapping["for_each"] == "${local.worker_event_sources}"
    assert mapping["event_source_arn"] == "${each.value.queue_arn}"
    assert {key: source["queue_arn"] for key, source in sources.items()} == {
        "sends": Ref("module.sends.arn"),
        "delivery-events": Ref("module.ses_events.arn"),
    }
    assert reference(mapping["function_name"]) == "module.worker.arn"
    assert evaluator.value(mapping["batch_size"]) == WORKER_BATCH_SIZE
    assert mapping["function_response_types"] == ["ReportBatchItemFailures"]
    assert "maximum_batching_window_in_seconds" in mapping
    assert mapping["scaling_config"][0]["maximum_concurrency"] == "${each.value.maximum_concurrency}"
    assert sources["sends"]["maximum_concurrency"] == evaluator.value("${local.worker_concurrency}")
    assert sources["delivery-events"]["maximum_concurrency"] == evaluator.variables["worker_max_concurrency"]
    assert mapping["depends_on"] == ["${module.worker}"]


def test_worker_instance_rate_is_the_codes() -> None:
    # Given the send rate the Terraform counts on from one worker instance
    rate = load().evaluator("prod").value("${local.worker_instance_sends_per_second}")
    # Then it is the code's
    assert rate == WORKER_INSTANCE_SENDS_PER_SECOND


@pytest.mark.parametrize(
    ("rate", "cap", "expected"),
    [
        (None, 2, 2),  # the account's rate, unknown to Terraform: the variable as it is
        (None, 40, 40),
        (1, 10, 2),  # at least the mapping's minimum
        (14, 10, 2),
        (101, 10, 3),  # ceil(101 / 50)
        (500, 10, 10),
        (5000, 10, 10),  # at most the variable
    ],
)
def test_worker_concurrency_is_what_the_rate_needs_within_the_variable(
    rate: float | None, cap: int, expected: int
) -> None:
    # Given a fleet rate (or none) and the variable's cap
    evaluator = load().evaluator("prod", overrides={"send_rate_per_second": rate, "worker_max_concurrency": cap})
    # Then the mapping runs as many instances as the rate needs at the rate one instance is counted on for
    concurrency = evaluator.value("${local.worker_concurrency}")
    assert concurrency == expected
    if rate is not None:
        assert concurrency == max(2, min(cap, math.ceil(rate / WORKER_INSTANCE_SENDS_PER_SECOND)))


def test_a_worker_batch_over_ten_messages_has_the_batching_window_lambda_requires() -> None:
    # Given the worker's mapping, whose batches are over 10 messages, and its batching window variable
    mapping = load().resource("aws_lambda_event_source_mapping", "worker")
    # Then the window comes from the variable, which, like Lambda for such batches, refuses a window under
    # a second and does not default to one
    assert mapping["maximum_batching_window_in_seconds"] == "${var.worker_batching_window_seconds}"
    window = load().variables["worker_batching_window_seconds"]
    (validation,) = window["validation"]
    assert WORKER_BATCH_SIZE > 10
    assert "var.worker_batching_window_seconds >= 1 " in validation["condition"]
    assert window["default"] >= 1


@pytest.mark.parametrize("stage", STAGES)
def test_a_worker_batch_is_sent_well_inside_the_timeout_and_the_visibility_timeout(stage: str) -> None:
    # Given the worker's timeout and the send queue's visibility timeout in this stage
    evaluator = load().evaluator(stage)
    timeout = evaluator.value(load().function("worker")["timeout"])
    sends, sends_evaluator = load().call_evaluator("sends", stage)
    visibility = sends_evaluator.value(sends.resource("aws_sqs_queue", "this")["visibility_timeout_seconds"])
    # Then the worker stops sending while a send and the give-back of the rest still fit; a message stays
    # hidden through the window and the invocation (and six timeouts: test_timeouts_match_the_code).
    assert timeout > WORKER_SEND_MARGIN_SECONDS
    assert visibility >= timeout + evaluator.value("${var.worker_batching_window_seconds}")


@pytest.mark.parametrize("function", sorted(SETTINGS))
def test_lambda_runtime_package_and_tracing(function: str) -> None:
    # Given the function in the Terraform: its call of modules/lambda_function, and the module's function
    call = load().function(function)
    module = load(LAMBDA_MODULE)
    spec = module.resource("aws_lambda_function", "this")
    # Then the handler named in Terraform is a function of the code (read, not imported: importing builds the app).
    assert spec["handler"] == "${var.handler}"
    module_name, _, attribute = call["handler"].rpartition(".")
    module_spec = importlib.util.find_spec(module_name)
    assert module_spec is not None and module_spec.origin is not None
    tree = ast.parse(Path(module_spec.origin).read_text())
    assert attribute in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert (spec["runtime"], spec["architectures"]) == ("python3.12", ["arm64"])
    assert spec["tracing_config"][0]["mode"] == "Active"
    # And the package comes from the zip that scripts/package_lambdas.py builds, and redeploys when it changes.
    variable = f"{PACKAGE[function]}_zip"
    assert call["filename"] == f"${{var.{variable}}}"
    assert (spec["filename"], spec["source_code_hash"]) == ("${var.filename}", "${filebase64sha256(var.filename)}")
    assert load().variables[variable]["default"].endswith(f"build/{PACKAGE[function]}.zip")
    # And logs go to the function's own log group, kept per stage.
    assert reference(spec["logging_config"][0]["log_group"]) == "aws_cloudwatch_log_group.this.name"
    log_group = module.resource("aws_cloudwatch_log_group", "this")
    assert log_group["name"] == "/aws/lambda/${local.function_name}"
    assert spec["function_name"] == "${local.function_name}"
    assert log_group["retention_in_days"] == "${var.log_retention_days}"
    assert call["log_retention_days"] == "${local.cfg.log_retention_days}"
    # And the function is created only once its role may log and call what it needs.
    assert spec["depends_on"] == ["${aws_iam_role_policy.this}"]


@pytest.mark.parametrize("stage", STAGES)
def test_function_role_and_log_group_keep_their_names(stage: str) -> None:
    # Given the names of the functions, in the stage (the module builds them from its call's arguments)
    module = load(LAMBDA_MODULE)
    names = {function: load().function_name(function, stage) for function in load().functions}
    # Then each is csv-campaign-<stage>-<name>, the role's name and the inline policy's the function's
    assert names == {
        "ingestor": f"csv-campaign-{stage}-ingestor",
        "worker": f"csv-campaign-{stage}-worker",
        "stream_ingest": f"csv-campaign-{stage}-stream-ingest",
        "counts": f"csv-campaign-{stage}-counts",
    }
    assert module.resource("aws_iam_role", "this")["name"] == "${local.function_name}"
    assert module.resource("aws_iam_role_policy", "this")["name"] == "${var.name}"
    # And the streaming ingest's name is the one its role may invoke (locals.tf builds the ARN from it)
    assert names["stream_ingest"] == load().evaluator(stage).value("${local.stream_ingest_function_name}")


# ---------------------------------------------------------------------------------------------------
# Large uploads: the bucket, its notification, the streaming ingest's asynchronous invocations
# ---------------------------------------------------------------------------------------------------


def test_upload_notification_matches_how_the_code_names_uploads() -> None:
    # Given the upload bucket's notification in the Terraform
    config_ = load()
    evaluator = config_.evaluator("prod")
    notification = config_.resource("aws_s3_bucket_notification", "uploads")
    (target,) = notification["lambda_function"]
    # Then every object the API asks for (uploads/<batchId>.csv), however it is created, starts the ingest
    assert reference(notification["bucket"]) == "aws_s3_bucket.uploads.id"
    assert reference(target["lambda_function_arn"]) == "module.stream_ingest.arn"
    assert target["events"] == ["s3:ObjectCreated:*"]
    assert evaluator.value(target["filter_prefix"]) == UPLOAD_PREFIX
    assert evaluator.value(target["filter_suffix"]) == UPLOAD_SUFFIX
    # And S3 may invoke it for this bucket of this account only, allowed before the notification is saved
    permission = config_.resource("aws_lambda_permission", "uploads")
    assert (permission["action"], permission["principal"]) == ("lambda:InvokeFunction", "s3.amazonaws.com")
    assert reference(permission["function_name"]) == "module.stream_ingest.function_name"
    assert reference(permission["source_arn"]) == "aws_s3_bucket.uploads.arn"
    assert evaluator.value(permission["source_account"]) == Ref("data.aws_caller_identity.current.account_id")
    assert notification["depends_on"] == ["${aws_lambda_permission.uploads}"]


def test_upload_bucket_is_private_encrypted_and_tls_only() -> None:
    # Given the upload bucket's call of modules/private_bucket (tests/infra/test_private_bucket.py)
    call = private_bucket_call(load(), "uploads")
    # Then a request without TLS is refused (pre-signed URLs are https), without a minimum TLS version
    assert "minimum_tls_version" not in call


def test_uploads_expire_after_the_ingest_can_need_them_and_stray_multipart_uploads_are_aborted() -> None:
    # Given the upload bucket's lifecycle rules in the Terraform (the module adds the multipart one)
    config_ = load()
    evaluator = config_.evaluator("prod")
    (expire,) = private_bucket_call(config_, "uploads")["lifecycle_rules"]
    # Then uploads expire after the variable's days
    assert evaluator.value(expire["prefix"]) == UPLOAD_PREFIX
    assert expire["expiration_days"] == "${var.upload_expiration_days}"
    # And are kept longer than Lambda may hold back (and retry) the event that reads the file
    max_event_age = evaluator.value(config_.locals["stream_ingest_max_event_age_seconds"])
    assert config_.variables["upload_expiration_days"]["default"] * 86_400 > max_event_age
    (validation,) = config_.variables["upload_expiration_days"]["validation"]
    assert "var.upload_expiration_days >= 1 " in validation["condition"]
    # And multipart uploads left incomplete are aborted, in the whole bucket
    (abort,) = load(MODULES_DIR / "private_bucket").resource("aws_s3_bucket_lifecycle_configuration", "this")["rule"]
    assert abort["filter"] == [{}]  # the whole bucket
    assert abort["abort_incomplete_multipart_upload"][0]["days_after_initiation"] >= 1


def test_browsers_may_put_uploads_only_from_the_allowed_origins(aws: None) -> None:
    # Given the headers a pre-signed PUT must carry (signed into the URL, and returned to the client)
    presigned = UploadStore("bucket").presign_put("0" * 32, "ab" * 32, 60)
    signed = parse_qs(urlsplit(presigned.url).query)["X-Amz-SignedHeaders"][0].split(";")
    needed = {name.lower() for name in presigned.headers} | (set(signed) - {"host"})
    # When the bucket's CORS rules are read
    cors = load().resource("aws_s3_bucket_cors_configuration", "uploads")
    (rule,) = cors["cors_rule"]
    # Then only the API's CORS origins may PUT, with those headers, and only when there are any
    assert cors["count"] == "${length(var.cors_allow_origins) > 0 ? 1 : 0}"
    assert rule["allowed_methods"] == ["PUT"]
    assert rule["allowed_origins"] == "${var.cors_allow_origins}"
    assert needed <= {name.lower() for name in rule["allowed_headers"]}


@pytest.mark.parametrize("stage", STAGES)
def test_streaming_ingest_events_that_fail_every_retry_are_kept_and_alarmed(stage: str) -> None:
    # Given the streaming ingest's asynchronous invocation settings in this stage
    config_ = load()
    evaluator = config_.evaluator(stage)
    invoke = config_.resource("aws_lambda_function_event_invoke_config", "stream_ingest")
    assert reference(invoke["function_name"]) == "module.stream_ingest.function_name"
    # Then the retry count and event age are stated, within what Lambda allows
    assert 0 <= evaluator.value(invoke["maximum_retry_attempts"]) <= 2
    assert 60 <= evaluator.value(invoke["maximum_event_age_in_seconds"]) <= 6 * 3600
    # And failed events land in their own encrypted queue, kept as long as the send DLQ keeps messages
    (on_failure,) = invoke["destination_config"][0]["on_failure"]
    assert reference(on_failure["destination"]) == "aws_sqs_queue.stream_ingest_failures.arn"
    queue = config_.resource("aws_sqs_queue", "stream_ingest_failures")
    assert queue["sqs_managed_sse_enabled"] is True
    assert str(evaluator.value(queue["message_retention_seconds"])) == dlq_attributes()["MessageRetentionPeriod"]
    assert "dead_letter_config" not in load(LAMBDA_MODULE).resource("aws_lambda_function", "this")


@pytest.mark.parametrize("stage", STAGES)
def test_the_continuation_invokes_the_function_itself(stage: str) -> None:
    config_ = load()
    evaluator = config_.evaluator(stage)
    # Given the name the runtime gives the function (AWS_LAMBDA_FUNCTION_NAME, which the continuation invokes)
    name = config_.function_name("stream_ingest", stage)
    # Then the ARN its role may invoke, built without a reference to the function, is that function's
    arn = evaluator.value("${local.stream_ingest_function_arn}")
    partition, account = Ref("data.aws_partition.current.partition"), Ref("data.aws_caller_identity.current.account_id")
    assert arn == f"arn:{partition}:lambda:{evaluator.value('${var.aws_region}')}:{account}:function:{name}"
    statements = config_.data["aws_iam_policy_document"]["stream_ingest"]["statement"]
    (invoke,) = [statement for statement in statements if "lambda:InvokeFunction" in statement["actions"]]
    assert (invoke["actions"], invoke["resources"]) == (
        ["lambda:InvokeFunction"],
        ["${local.stream_ingest_function_arn}"],
    )


def test_streaming_ingest_concurrency_is_capped_or_explicitly_unreserved() -> None:
    # Given the streaming ingest in the Terraform
    spec = load().function("stream_ingest")
    # Then its concurrency comes from a variable which caps it or leaves it unreserved by default
    assert spec["reserved_concurrent_executions"] == "${var.stream_ingest_reserved_concurrency}"
    function = load(LAMBDA_MODULE).resource("aws_lambda_function", "this")
    assert function["reserved_concurrent_executions"] == "${var.reserved_concurrent_executions}"
    default = load().variables["stream_ingest_reserved_concurrency"]["default"]
    assert default == -1 or default >= 1  # 0 would stop the function


# ---------------------------------------------------------------------------------------------------
# HTTP API
# ---------------------------------------------------------------------------------------------------


def _route_keys() -> list[str]:
    keys: list[str] = load().locals["api_routes"]
    return keys


def _preflight_route_keys() -> list[str]:
    keys: list[str] = load().locals["api_preflight_routes"]
    return keys


def _api_handler() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The API Lambda's entry point. app.handler builds the app when imported, reading its settings,
    so it is imported only once the environment is set (as Lambda sets it before importing)."""
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = importlib.import_module("app.handler").handler
    return handler


@pytest.fixture
def fastapi_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    env = {
        config.ENV_TABLE_NAME: "t",
        config.ENV_QUEUE_URL: "q",
        config.ENV_API_KEY: "k",
        config.ENV_UNSUBSCRIBE_KEY: "u",
        config.ENV_UPLOAD_BUCKET: "b",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config.clear_settings_cache()
    yield create_app()
    config.clear_settings_cache()


# The docs pages' scripts and styles (app/docs.py serves them; not operations of the schema).
ASSETS_ROUTE = "/assets/{proxy+}"


def test_api_routes_cover_the_app(fastapi_app: FastAPI) -> None:
    # Given every operation the app documents, plus its docs page, its schema and the pages' assets
    needed = {(method.upper(), path) for path, ops in fastapi_app.openapi()["paths"].items() for method in ops}
    needed |= {("GET", fastapi_app.docs_url), ("GET", fastapi_app.openapi_url), ("GET", ASSETS_ROUTE)}
    routes = {tuple(key.split(" ", 1)) for key in _route_keys()}
    # Then each is routed (by its method or ANY), and every route leads to something the app serves
    uncovered = {(m, p) for m, p in needed if (m, p) not in routes and ("ANY", p) not in routes}
    assert uncovered == set()
    assert {p for _, p in routes} == {p for _, p in needed}
    # FastAPI also serves ReDoc (a second /docs) and the OAuth2 redirect page (no OAuth here): unrouted.
    assert not {p for _, p in routes} & {fastapi_app.redoc_url, fastapi_app.swagger_ui_oauth2_redirect_url}
    assert "$default" not in _route_keys()
    # Preflights are routed for the browser-facing POST routes that ANY does not already cover (not for
    # /unsubscribe: a form's POST and a provider's one-click POST are simple requests, never preflighted).
    assert {("OPTIONS", p) for m, p in routes if m == "POST" and p != "/unsubscribe"} == {
        tuple(key.split(" ", 1)) for key in _preflight_route_keys()
    }


# A value for each path parameter of the routes: a well-formed upload id that names no upload, and a
# file the docs pages load.
PATH_PARAMETERS = {"{upload_id}": "0" * 32, "{proxy+}": "swagger-ui-dist-5.35.0/swagger-ui.css"}


def _router_refused(response: dict[str, Any]) -> bool:
    """The app's router found no route or method (its own 404s, e.g. upload_not_found, do not count)."""
    if response["statusCode"] == 405:
        return True
    try:
        error = json.loads(response.get("body") or "{}").get("error")
    except (json.JSONDecodeError, AttributeError):
        error = None
    return response["statusCode"] == 404 and error in (None, "not_found")


@pytest.mark.parametrize("route_key", _route_keys())
def test_each_route_reaches_a_handler(route_key: str, stack: Any) -> None:
    # Given an HTTP API v2 event for the route, as API Gateway sends it
    method, path = route_key.split(" ", 1)
    for parameter, value in PATH_PARAMETERS.items():
        path = path.replace(parameter, value)
    event = http_api_event("GET" if method == "ANY" else method, path)
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    # When the Lambda entry point handles it
    response = _api_handler()(event, LocalLambdaContext())
    # Then the app knows the path and method (a POST /upload without a file is a 415, not a 404)
    assert "{" not in path
    assert not _router_refused(response), response


@pytest.mark.parametrize("route_key", _preflight_route_keys())
def test_preflight_routes_are_answered_when_origins_are_allowed(
    route_key: str, stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an app configured, as Terraform does, with one allowed origin
    origin = "https://app.example.com"
    monkeypatch.setenv(config.ENV_CORS_ALLOW_ORIGINS, origin)
    config.clear_settings_cache()
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = Mangum(create_app(), lifespan="off")
    method, path = route_key.split(" ", 1)
    event = http_api_event(method, path, headers={"origin": origin, "access-control-request-method": "POST"})
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    # When the browser's preflight reaches it
    response = handler(event, LocalLambdaContext())
    # Then the app allows the origin
    assert response["statusCode"] == 200, response
    assert response["headers"]["access-control-allow-origin"] == origin
    # And the preflight route exists only when origins are allowed
    route = load().resource("aws_apigatewayv2_route", "preflight")
    assert route["for_each"] == "${length(var.cors_allow_origins) > 0 ? toset(local.api_preflight_routes) : toset([])}"


def test_api_integration_and_stage() -> None:
    # Given the HTTP API's integration and stage in the Terraform
    config_ = load()
    integration = config_.resource("aws_apigatewayv2_integration", "ingestor")
    stage = config_.resource("aws_apigatewayv2_stage", "default")
    # Then the ingestor serves every request as a proxy; the one stage deploys itself, logs access, and is
    # throttled in every stage
    assert (integration["integration_type"], integration["payload_format_version"]) == ("AWS_PROXY", "2.0")
    assert reference(integration["integration_uri"]) == "module.ingestor.invoke_arn"
    assert (stage["name"], stage["auto_deploy"]) == ("$default", True)
    assert reference(stage["access_log_settings"][0]["destination_arn"]) == "aws_cloudwatch_log_group.api_access.arn"
    throttling = stage["default_route_settings"][0]
    for stage_name in STAGES:
        evaluator = config_.evaluator(stage_name)
        assert evaluator.value(throttling["throttling_rate_limit"]) > 0
        assert evaluator.value(throttling["throttling_burst_limit"]) > 0


def test_only_ses_publishes_delivery_events_and_only_their_topic_delivers_them() -> None:
    # Given the SES events pipeline's resource policies and the deliveries their documents are built from
    config_ = load()
    document = config_.data["aws_iam_policy_document"]["ses_events_delivery"]
    deliveries = config_.evaluator("prod").value("${local.ses_events_deliveries}")
    topic_policy = config_.resource("aws_sns_topic_policy", "ses_events")
    queue_policy = config_.resource("aws_sqs_queue_policy", "events")
    # Then the topic's and the queue's policies are their own delivery's document
    assert document["for_each"] == "${local.ses_events_deliveries}"
    assert (reference(topic_policy["arn"]), topic_policy["policy"]) == (
        "aws_sns_topic.ses_events.arn",
        '${data.aws_iam_policy_document.ses_events_delivery["topic"].json}',
    )
    assert (reference(queue_policy["queue_url"]), queue_policy["policy"]) == (
        "module.ses_events.url",
        '${data.aws_iam_policy_document.ses_events_delivery["queue"].json}',
    )
    # And each document is one statement: the delivery's one action on its one resource, for its service
    # principal, under its condition
    assert document["statement"] == [
        {
            "sid": "${each.value.sid}",
            "actions": ["${each.value.action}"],
            "resources": ["${each.value.resource}"],
            "principals": [{"type": "Service", "identifiers": ["${each.value.service}"]}],
            "condition": [
                {
                    "test": "${each.value.condition.test}",
                    "variable": "${each.value.condition.variable}",
                    "values": "${each.value.condition.values}",
                }
            ],
        }
    ]
    # And SES may publish to the topic for this account only; only that topic may send to the queue
    assert deliveries == {
        "topic": {
            "sid": "SesPublishesItsEvents",
            "action": "sns:Publish",
            "resource": Ref("aws_sns_topic.ses_events.arn"),
            "service": "ses.amazonaws.com",
            "condition": {
                "test": "StringEquals",
                "variable": "AWS:SourceAccount",
                "values": [Ref("data.aws_caller_identity.current.account_id")],
            },
        },
        "queue": {
            "sid": "TopicDeliversEvents",
            "action": "sqs:SendMessage",
            "resource": Ref("module.ses_events.arn"),
            "service": "sns.amazonaws.com",
            "condition": {
                "test": "ArnEquals",
                "variable": "aws:SourceArn",
                "values": [Ref("aws_sns_topic.ses_events.arn")],
            },
        },
    }


# ---------------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------------


def test_alarms_cover_the_failure_modes_and_notify() -> None:
    # Given the alarms of the Terraform, as prod evaluates them
    alarms = load().evaluator("prod").value("${local.alarms}")
    watched = {(a["namespace"], a["metric_name"], frozenset((a["dimensions"] or {}).items())) for a in alarms.values()}
    expected = [
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "module.sends.dlq_name"}),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "module.ses_events.dlq_name"}),
        ("AWS/Lambda", "Errors", {"FunctionName": "module.worker.function_name"}),
        ("AWS/Lambda", "Throttles", {"FunctionName": "module.worker.function_name"}),
        ("AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": "module.sends.name"}),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "aws_sqs_queue.stream_ingest_failures.name"}),
        ("AWS/Lambda", "Errors", {"FunctionName": "module.stream_ingest.function_name"}),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": "aws_sqs_queue.counts_failures.name"}),
        ("AWS/Lambda", "IteratorAge", {"FunctionName": "module.counts.function_name"}),
    ]
    # Then each failure mode has its alarm
    for namespace, metric, dimensions in expected:
        refs = frozenset((name, Ref(address)) for name, address in dimensions.items())
        assert (namespace, metric, refs) in watched, (namespace, metric, dimensions)
    assert any(a["namespace"] == "AWS/ApiGateway" and a["metric_name"] == "5xx" for a in alarms.values())
    # And IteratorAge is in milliseconds; the variable is in seconds
    (lag,) = [a for a in alarms.values() if a["metric_name"] == "IteratorAge"]
    assert lag["threshold"] == load().evaluator("prod").variables["counts_lag_alarm_seconds"] * 1000
    # And every alarm notifies (the one alarm resource: tests/infra/test_alarms.py), by e-mail when an
    # address is given
    alarm = load().resource("aws_cloudwatch_metric_alarm", "this")
    assert alarm["alarm_actions"] == alarm["ok_actions"] == "${local.alarm_actions}"
    subscription = load().resource("aws_sns_topic_subscription", "alarm_email")
    assert subscription["count"] == "${var.alarm_email == null ? 0 : 1}"
