"""The local AWS: moto's server on loopback, with fidelity fixes and speed-ups.

Fidelity (tests install these too):
* DynamoDB evaluates a conditional write atomically per item; moto evaluates the condition and
  applies the write without a lock, so two threads can both pass `attribute_not_exists`. A lock
  around moto's item writes restores DynamoDB's guarantee (the race tests rely on it). Reads take
  the same lock, so a Query or Scan never walks moto's dicts while a write changes them; so does the
  building of a write's answer (ReturnValues), which moto reads from the live item after the write.
* TransactWriteItems with a ClientRequestToken is idempotent for ten minutes in DynamoDB (a repeat
  of a call that succeeded succeeds without writing again); moto ignores the token. The stream
  consumer relies on it, so the emulator honours it.
* moto copies every table a transaction touches, whole, before each TransactWriteItems, and on a
  cancellation puts the copy in the table's place: the table's stream goes with it, so a reader of
  the stream stops seeing new records (and at 100,000 rows the copy takes seconds). Here the
  conditions are all checked first, under the item lock, and nothing is written unless every one
  holds: the outcome DynamoDB gives, with the table left in place.
* SESv2 GetAccount is missing from moto; here it answers like SES, with a production account's
  `SendQuota` whose MaxSendRate is LOCAL_SES_MAX_SEND_RATE (read at each call; default
  DEFAULT_LOCAL_SES_MAX_SEND_RATE) and SentLast24Hours the messages moto has sent. The worker paces
  the fleet at the lower of this rate and SEND_RATE_PER_SECOND.

Fidelity for `terraform apply` (the emulator server only; tests/infra/test_apply_on_emulator.py):
* SQS: moto stores a queue's `RedriveAllowPolicy` but never returns it (GetQueueAttributes with "All"
  omits it, and asking for it by name is an InvalidAttributeName), so the AWS provider waits for ever
  for the policy it set. Here it is returned as SQS does. `RedrivePolicy` comes back as compact JSON,
  as SQS returns it (moto's spaces made every re-plan update the queues and what depends on them).
* Lambda: moto has no `LoggingConfig`; here a function's configuration has Lambda's default (Text
  format, log group /aws/lambda/<name>); a LoggingConfig given to CreateFunction is still dropped.
* SESv2 GetConfigurationSet: moto nests `SendingOptions` ({"SendingEnabled": {"SendingEnabled": true}}),
  which the AWS provider cannot read, and returns options never set as empty objects. Here the answer
  has SES's documented shape: `SendingOptions.SendingEnabled` a boolean (true unless disabled),
  `DeliveryOptions.TlsPolicy` defaulting to OPTIONAL, options that were never set left out.
* SESv2 email identities: moto files a new identity's tags under `...:email-identity/<name>`, while its
  ARN (and the AWS provider's tag reads) is `...:identity/<name>`; here they are filed under the latter too.
* SESv2 configuration set event destinations (Create, GetConfigurationSetEventDestinations, Update,
  Delete) are missing from moto; here they are kept on the configuration set, in SES's shapes (events are
  not published to the destinations).
* S3 lifecycle rules: moto drops `NoncurrentVersionExpiration.NewerNoncurrentVersions`, so the AWS
  provider waits (3 minutes, then fails) for the rule it wrote to read back. Here it is kept and returned.
* S3 bucket policies: moto applies a statement whose condition it cannot evaluate (Bool, Numeric*) as if
  the condition held, so the state bucket's TLS-only Deny statements (aws:SecureTransport false,
  s3:TlsVersion < 1.2) refuse every object request. Here conditions on those two keys are evaluated for
  a request over TLS 1.3, the emulator standing in for AWS's HTTPS endpoints; a statement whose condition
  does not hold is left out, and any other condition is left to moto.

Local switches (the emulator server only):
* SES outage: while the file named by LOCAL_SES_OUTAGE_FILE exists (default: DEFAULT_SES_OUTAGE_FILE,
  in the temporary directory), SESv2 SendEmail answers 503 ServiceUnavailableException, as SES does
  when it is down. `touch` the file during `make run` to watch sends fail over to the SMTP provider
  and the SES breaker open; remove it and, after the breaker's cooldown, SES takes the sends back.

Speed (the emulator server only):
* moto recomputes three approximate message counters (walking every message) each time SendMessage,
  SendMessageBatch or ReceiveMessage reads a queue's attributes, which makes ingest quadratic in
  queue depth. Inside those three calls only, the counters are skipped; GetQueueAttributes still
  returns them, and request counts and behaviour are unchanged.
* moto keeps every stream record for ever; records before the oldest position the one local reader
  asked for are dropped.
"""

import argparse
import contextvars
import functools
import hashlib
import inspect
import json
import logging
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from moto.awslambda import models as lambda_models
from moto.core.responses import ActionResult
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb import responses as dynamodb_responses
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MultipleTransactionsException,
    TransactionCanceledException,
)
from moto.dynamodb.models.table import StreamShard
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3 import models as s3_models
from moto.s3.responses import S3Response
from moto.server import ThreadedMotoServer
from moto.sesv2 import models as sesv2_models
from moto.sesv2 import urls as sesv2_urls
from moto.sesv2.responses import SESV2Response
from moto.sqs import models as sqs_models

_COUNTERS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
)
_skip_counters = contextvars.ContextVar("skip_counters", default=False)


_ALL_ATTRIBUTES: list[str] = list(sqs_models.Queue.BASE_ATTRIBUTES)
_WITHOUT_COUNTERS = [name for name in _ALL_ATTRIBUTES if name not in _COUNTERS]


def _base_attributes(_queue: Any) -> list[str]:
    # Chosen per call from the calling thread's context, never stored on the shared queue object:
    # the server handles concurrent calls on one queue in several threads.
    return _WITHOUT_COUNTERS if _skip_counters.get() else _ALL_ATTRIBUTES


def _without_counters(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        token = _skip_counters.set(True)
        try:
            return method(*args, **kwargs)
        finally:
            _skip_counters.reset(token)

    return wrapper


_WRAPPED_BY = "_emulator_wrapped_by"


def _wrap_once(owner: type, name: str, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> None:
    """`owner.name = wrap(owner.name)` (a property's getter for a property), unless `wrap` is already in
    place: the stack, the tests and the benches each install the patches they need, and installing one
    twice must not stack a second wrapper on the first."""
    current = inspect.getattr_static(owner, name)
    target: Callable[..., Any] = current.fget if isinstance(current, property) else getattr(owner, name)  # type: ignore[assignment]
    applied: tuple[str, ...] = getattr(target, _WRAPPED_BY, ())
    if wrap.__qualname__ in applied:
        return
    wrapped = wrap(target)
    wrapped.__dict__[_WRAPPED_BY] = (*applied, wrap.__qualname__)
    setattr(owner, name, property(wrapped) if isinstance(current, property) else wrapped)


_ITEM_ACCESS = ("put_item", "update_item", "delete_item", "transact_write_items", "get_item", "query", "scan")
_item_lock = threading.RLock()


def _serialized(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _item_lock:
            return method(*args, **kwargs)

    return wrapper


# Requests whose answer moto builds from the live item after the write returns: ReturnValues
# (ALL_NEW, UPDATED_NEW) would otherwise show a concurrent later write's values, as two reservations
# of the send-rate bucket both reading the same new `tat`. DynamoDB answers from the item as its own
# write left it.
_ANSWERED_FROM_THE_ITEM = ("put_item", "update_item", "delete_item")


def install_dynamodb_item_lock() -> None:
    for name in _ITEM_ACCESS:
        _wrap_once(dynamodb_models.DynamoDBBackend, name, _serialized)
    for name in _ANSWERED_FROM_THE_ITEM:
        _wrap_once(dynamodb_responses.DynamoHandler, name, _serialized)


_TOKEN_SECONDS = 600
_tokens: dict[str, tuple[str, float]] = {}
_tokens_lock = threading.Lock()


def _idempotent(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(method)
    def wrapper(handler: Any) -> Any:
        token = handler.body.get("ClientRequestToken")
        if not token:
            return method(handler)
        # Binary values reach here decoded (bytes), which JSON cannot hold: repr stands for them.
        items = json.dumps(handler.body["TransactItems"], sort_keys=True, default=repr)
        digest = hashlib.sha256(items.encode()).hexdigest()
        with _tokens_lock:
            seen = _tokens.get(token)
        if seen is not None and time.monotonic() - seen[1] < _TOKEN_SECONDS and seen[0] == digest:
            return ActionResult({})
        result = method(handler)
        with _tokens_lock:
            _tokens[token] = (digest, time.monotonic())
        return result

    return wrapper


def install_transaction_tokens() -> None:
    _wrap_once(dynamodb_responses.DynamoHandler, "transact_write_items", _idempotent)


def _check_then_write(backend: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's TransactWriteItems without its table copies: every condition first, then the writes."""
    targets: set[tuple[str, str]] = set()
    errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        table = backend.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        target = (op["TableName"], json.dumps(key, sort_keys=True))
        if target in targets:
            raise MultipleTransactionsException()
        targets.add(target)
        current = backend.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        passed = condition is None or get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current)
        if passed:
            errors.append((None, None, None))
        else:
            old = (
                current.to_json()["Attributes"]
                if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                else None
            )
            errors.append(("ConditionalCheckFailed", ConditionalCheckFailed().message, old))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)
    for entry in transact_items:
        op_type, op = next(iter(entry.items()))
        names, values = op.get("ExpressionAttributeNames") or {}, op.get("ExpressionAttributeValues") or {}
        if op_type == "Put":
            backend.put_item(op["TableName"], op["Item"])
        elif op_type == "Delete":
            backend.delete_item(op["TableName"], op["Key"])
        elif op_type == "Update":
            backend.update_item(
                op["TableName"],
                op["Key"],
                update_expression=op["UpdateExpression"],
                expression_attribute_names=names,
                expression_attribute_values=values,
            )


def install_transaction_checks_first() -> None:
    backend = dynamodb_models.DynamoDBBackend
    backend.transact_write_items = _serialized(_check_then_write)  # type: ignore[method-assign]


def _trimming(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(shard: Any, start: int, quantity: int) -> Any:
        consumed = start - shard.starting_sequence_number
        if consumed > 0:
            del shard.items[:consumed]
            shard.starting_sequence_number = start
        return method(shard, start, quantity)

    return wrapper


def install_stream_trim() -> None:
    StreamShard.get = _trimming(StreamShard.get)  # type: ignore[method-assign]


def install_sqs_speedup() -> None:
    sqs_models.Queue.BASE_ATTRIBUTES = property(_base_attributes)  # type: ignore[assignment]
    for name in ("send_message", "send_message_batch", "receive_message"):
        setattr(sqs_models.SQSBackend, name, _without_counters(getattr(sqs_models.SQSBackend, name)))


# SESv2 GetAccount's send quota. 50 emails a second is a modest production account's rate: high
# enough that a local campaign is not slow, low enough that pacing shows (LOCAL_SES_MAX_SEND_RATE
# changes it while the emulator runs).
ENV_LOCAL_SES_MAX_SEND_RATE = "LOCAL_SES_MAX_SEND_RATE"
DEFAULT_LOCAL_SES_MAX_SEND_RATE = 50.0
LOCAL_SES_MAX_24_HOUR_SEND = 50_000.0


def _get_account(response: Any) -> str:
    """SESv2 GetAccount, answered from the environment and moto's count of sent messages."""
    rate = float(os.environ.get(ENV_LOCAL_SES_MAX_SEND_RATE) or DEFAULT_LOCAL_SES_MAX_SEND_RATE)
    return json.dumps(
        {
            "DedicatedIpAutoWarmupEnabled": False,
            "EnforcementStatus": "HEALTHY",
            "ProductionAccessEnabled": True,
            "SendQuota": {
                "Max24HourSend": LOCAL_SES_MAX_24_HOUR_SEND,
                "MaxSendRate": rate,
                "SentLast24Hours": float(response.sesv2_backend.core_backend.sent_message_count),
            },
            "SendingEnabled": True,
        }
    )


def install_ses_account() -> None:
    SESV2Response.get_account = _get_account  # type: ignore[attr-defined]
    # In-process moto routes every /v2/ path to the handler; the server turns moto's catch-all into
    # a literal Flask rule, so GetAccount's path needs a rule of its own there.
    sesv2_urls.url_paths.setdefault("{0}/v2/email/account$", SESV2Response.dispatch)


ENV_LOCAL_SES_OUTAGE_FILE = "LOCAL_SES_OUTAGE_FILE"
DEFAULT_SES_OUTAGE_FILE = Path(tempfile.gettempdir()) / "campaign-ses-outage"


def outage_file() -> Path:
    """The file whose presence takes the emulated SES down (read at each send)."""
    return Path(os.environ.get(ENV_LOCAL_SES_OUTAGE_FILE) or DEFAULT_SES_OUTAGE_FILE)


def _unless_outage(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(method)
    def wrapper(response: Any) -> Any:
        if not outage_file().exists():
            return method(response)
        body = {"__type": "ServiceUnavailableException", "message": f"local SES outage: {outage_file()} exists"}
        return json.dumps(body), {"status": 503, "Content-Type": "application/json"}

    return wrapper


def install_ses_outage_switch() -> None:
    _wrap_once(SESV2Response, "send_email", _unless_outage)


REDRIVE_ALLOW_POLICY = "RedriveAllowPolicy"


def _attributes_with_redrive_allow_policy(getter: Callable[[Any], dict[str, Any]]) -> Callable[[Any], dict[str, Any]]:
    @functools.wraps(getter)
    def attributes(queue: Any) -> dict[str, Any]:
        result = getter(queue)
        # Set by moto's _set_attributes (CreateQueue, SetQueueAttributes) as redrive_allow_policy.
        policy = getattr(queue, "redrive_allow_policy", None)
        if policy:
            result[REDRIVE_ALLOW_POLICY] = policy
        if getattr(queue, "redrive_policy", None):
            result["RedrivePolicy"] = json.dumps(queue.redrive_policy, separators=(",", ":"))
        return result

    return attributes


def _answering_redrive_allow_policy(method: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    @functools.wraps(method)
    def get_queue_attributes(backend: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        if REDRIVE_ALLOW_POLICY not in (attribute_names or []):
            return method(backend, queue_name, attribute_names)
        queue = backend.get_queue(queue_name)
        others = [name for name in attribute_names if name != REDRIVE_ALLOW_POLICY]
        result = method(backend, queue_name, others) if others else {}
        policy = getattr(queue, "redrive_allow_policy", None)
        if policy:
            result[REDRIVE_ALLOW_POLICY] = policy
        return result

    return get_queue_attributes


def install_sqs_redrive_allow_policy() -> None:
    _wrap_once(sqs_models.Queue, "attributes", _attributes_with_redrive_allow_policy)
    _wrap_once(sqs_models.SQSBackend, "get_queue_attributes", _answering_redrive_allow_policy)


def _sending_enabled(config_set: Any) -> bool:
    # moto keeps SESv2's SendingOptions dict (or {} when not given) where SES v1 keeps a boolean.
    enabled = config_set.enabled
    if isinstance(enabled, dict):
        return bool(enabled.get("SendingEnabled", True))
    return True if enabled is None else bool(enabled)


def _get_configuration_set(response: Any) -> str:
    """SESv2 GetConfigurationSet in the shape SES documents (and the AWS provider reads)."""
    name = response._get_param("ConfigurationSetName")
    config_set = response.sesv2_backend.get_configuration_set(configuration_set_name=name)
    delivery = {"TlsPolicy": "OPTIONAL", **(config_set.delivery_options or {})}
    reputation = {"ReputationMetricsEnabled": False, **(config_set.reputation_options or {})}
    body: dict[str, Any] = {
        "ConfigurationSetName": config_set.configuration_set_name,
        "DeliveryOptions": delivery,
        "ReputationOptions": reputation,
        "SendingOptions": {"SendingEnabled": _sending_enabled(config_set)},
        "Tags": config_set.tags or [],
    }
    for key, value in (
        ("TrackingOptions", config_set.tracking_options),
        ("SuppressionOptions", config_set.suppression_options),
        ("VdmOptions", config_set.vdm_options),
    ):
        if value:
            body[key] = value
    return json.dumps(body)


def _event_destinations(response: Any) -> dict[str, dict[str, Any]]:
    """The event destinations of the request's configuration set (NotFoundException when there is none)."""
    name = response._get_param("ConfigurationSetName")
    config_set = response.sesv2_backend.get_configuration_set(configuration_set_name=name)
    if not hasattr(config_set, "event_destinations_v2"):
        config_set.event_destinations_v2 = {}
    destinations: dict[str, dict[str, Any]] = config_set.event_destinations_v2
    return destinations


def _destination_body(name: str, definition: dict[str, Any]) -> dict[str, Any]:
    return {"Name": name, "Enabled": bool(definition.get("Enabled", False)), **definition}


def _create_configuration_set_event_destination(response: Any) -> str:
    destinations = _event_destinations(response)
    name = response._get_param("EventDestinationName")
    if name in destinations:
        body = {"__type": "AlreadyExistsException", "message": f"Event destination {name} already exists"}
        return json.dumps(body), {"status": 400, "Content-Type": "application/json"}  # type: ignore[return-value]
    destinations[name] = _destination_body(name, response._get_param("EventDestination") or {})
    return json.dumps({})


def _get_configuration_set_event_destinations(response: Any) -> str:
    return json.dumps({"EventDestinations": list(_event_destinations(response).values())})


def _update_configuration_set_event_destination(response: Any) -> str:
    destinations = _event_destinations(response)
    name = response._get_param("EventDestinationName")
    if name not in destinations:
        body = {"__type": "NotFoundException", "message": f"Event destination {name} does not exist"}
        return json.dumps(body), {"status": 404, "Content-Type": "application/json"}  # type: ignore[return-value]
    destinations[name] = _destination_body(name, response._get_param("EventDestination") or {})
    return json.dumps({})


def _delete_configuration_set_event_destination(response: Any) -> str:
    destinations = _event_destinations(response)
    name = response._get_param("EventDestinationName")
    if destinations.pop(name, None) is None:
        body = {"__type": "NotFoundException", "message": f"Event destination {name} does not exist"}
        return json.dumps(body), {"status": 404, "Content-Type": "application/json"}  # type: ignore[return-value]
    return json.dumps({})


def _tagging_identity_arn(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def create_email_identity(backend: Any, email_identity: str, tags: Any, *args: Any, **kwargs: Any) -> Any:
        identity = method(backend, email_identity, tags, *args, **kwargs)
        if tags:
            arn = f"arn:{backend.partition}:ses:{backend.region_name}:{backend.account_id}:identity/{email_identity}"
            backend.core_backend.tagger.tag_resource(arn=arn, tags=tags)
        return identity

    return create_email_identity


_CONFIGURATION_SET_PATH = "{0}/v2/email/configuration-sets/(?P<ConfigurationSetName>[^/]+)"


def install_ses_configuration_set_shape() -> None:
    SESV2Response.get_configuration_set = _get_configuration_set  # type: ignore[method-assign,assignment]
    _wrap_once(sesv2_models.SESV2Backend, "create_email_identity", _tagging_identity_arn)
    handlers = {
        "create_configuration_set_event_destination": _create_configuration_set_event_destination,
        "get_configuration_set_event_destinations": _get_configuration_set_event_destinations,
        "update_configuration_set_event_destination": _update_configuration_set_event_destination,
        "delete_configuration_set_event_destination": _delete_configuration_set_event_destination,
    }
    for name, handler in handlers.items():
        setattr(SESV2Response, name, handler)
    # The server needs a rule per path (see install_ses_account).
    sesv2_urls.url_paths.setdefault(_CONFIGURATION_SET_PATH + "/event-destinations$", SESV2Response.dispatch)
    sesv2_urls.url_paths.setdefault(
        _CONFIGURATION_SET_PATH + "/event-destinations/(?P<EventDestinationName>[^/]+)$", SESV2Response.dispatch
    )


NEWER_NONCURRENT_VERSIONS = "NewerNoncurrentVersions"


def _keeping_newer_noncurrent_versions(method: Callable[..., None]) -> Callable[..., None]:
    @functools.wraps(method)
    def set_lifecycle(bucket: Any, rules: list[dict[str, Any]]) -> None:
        method(bucket, rules)
        for rule, stored in zip(rules, bucket.rules, strict=True):
            expiration = rule.get("NoncurrentVersionExpiration") or {}
            stored.nve_newer_versions = expiration.get(NEWER_NONCURRENT_VERSIONS)

    return set_lifecycle


def _returning_newer_noncurrent_versions(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    @functools.wraps(method)
    def get_bucket_lifecycle(response: Any) -> Any:
        serialize = response.serialized

        def serialized(action_result: ActionResult) -> Any:
            result = action_result.result
            if isinstance(result, dict):
                stored = response.backend.get_bucket_lifecycle(response.bucket_name)
                for rule, kept in zip(result.get("Rules", []), stored, strict=False):
                    newer = getattr(kept, "nve_newer_versions", None)
                    if newer is not None and "NoncurrentVersionExpiration" in rule:
                        rule["NoncurrentVersionExpiration"][NEWER_NONCURRENT_VERSIONS] = newer
            return serialize(action_result)

        response.serialized = serialized
        try:
            return method(response)
        finally:
            del response.serialized

    return get_bucket_lifecycle


def install_s3_lifecycle_newer_versions() -> None:
    _wrap_once(s3_models.FakeBucket, "set_lifecycle", _keeping_newer_noncurrent_versions)
    _wrap_once(S3Response, "get_bucket_lifecycle", _returning_newer_noncurrent_versions)


# The request context of a call to the emulator, as if made to AWS's HTTPS endpoint.
TLS_REQUEST_CONTEXT = {"aws:securetransport": "true", "s3:tlsversion": "1.3"}
_CONDITION_TESTS: dict[str, Callable[[str, str], bool]] = {
    "Bool": lambda actual, expected: actual.lower() == expected.lower(),
    "StringEquals": lambda actual, expected: actual == expected,
    "StringNotEquals": lambda actual, expected: actual != expected,
    "NumericEquals": lambda actual, expected: float(actual) == float(expected),
    "NumericLessThan": lambda actual, expected: float(actual) < float(expected),
    "NumericLessThanEquals": lambda actual, expected: float(actual) <= float(expected),
    "NumericGreaterThan": lambda actual, expected: float(actual) > float(expected),
    "NumericGreaterThanEquals": lambda actual, expected: float(actual) >= float(expected),
}


def _condition_holds(condition: dict[str, dict[str, Any]]) -> bool | None:
    """Whether a statement's Condition holds for TLS_REQUEST_CONTEXT; None when it names anything else."""
    for operator, entries in condition.items():
        test = _CONDITION_TESTS.get(operator)
        if test is None:
            return None
        for key, expected in entries.items():
            actual = TLS_REQUEST_CONTEXT.get(key.lower())
            if actual is None:
                return None
            values = expected if isinstance(expected, list) else [expected]
            if not any(test(actual, str(value)) for value in values):
                return False
    return True


def _bucket_permission(bucket: Any, action: str, resource: str) -> PermissionResult:
    if bucket.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(bucket.policy)
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    applying = [s for s in statements if not s.get("Condition") or _condition_holds(s["Condition"]) is not False]
    if not applying:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**document, "Statement": applying})).is_action_permitted(action, resource)


def install_s3_policy_conditions() -> None:
    s3_models.FakeBucket.get_permission = _bucket_permission  # type: ignore[method-assign,assignment]


def _with_logging_config(method: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    @functools.wraps(method)
    def get_configuration(function: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        configuration = method(function, *args, **kwargs)
        # moto stores no LoggingConfig (CreateFunction's is dropped): Lambda's default stands in.
        configuration.setdefault(
            "LoggingConfig", {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{function.function_name}"}
        )
        return configuration

    return get_configuration


def install_lambda_logging_config() -> None:
    _wrap_once(lambda_models.LambdaFunction, "get_configuration", _with_logging_config)


def install_terraform_fidelity() -> None:
    """The patches `terraform apply` of terraform/ and terraform/bootstrap/ needs (see the module docstring)."""
    install_sqs_redrive_allow_policy()
    install_ses_configuration_set_shape()
    install_s3_lifecycle_newer_versions()
    install_s3_policy_conditions()
    install_lambda_logging_config()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args()
    install_dynamodb_item_lock()
    install_transaction_tokens()
    install_transaction_checks_first()
    install_sqs_speedup()
    install_stream_trim()
    install_ses_account()
    install_ses_outage_switch()
    install_terraform_fidelity()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call drowns the banner
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()


if __name__ == "__main__":
    main()
