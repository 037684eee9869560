"""Each Lambda's IAM policy allows exactly the AWS calls its code makes, on exactly what they touch.

The calls are recorded, not listed by hand: the real flows run against moto through the real entry
points (app.handler.handler with API Gateway v2 events, worker.handler.handler with SQS events from the
emulated queue, worker.s3_ingest.handler with S3 notifications and its own continuation events,
worker.count_changes.handler with records of the emulated table's stream), and a botocore hook on
boto3's default session notes every operation and the resource it names. Each operation maps to its IAM
action (a transaction to the actions of its items); the Terraform policy documents must allow all of
them and nothing else, apart from the reasoned entries in tests/infra/allowlists.py.

Pre-signing is recorded by the same hook: botocore builds the request's parameters before it signs a
URL, exactly as before it sends a request, and flags it as a pre-sign. Nothing reaches AWS then, but S3
authorizes the client's later PUT with the signer's permissions, so the signer's role needs the action
the URL performs. test_presigned_upload_is_a_put_of_one_upload_object reads the URL the API returned to
check that what was recorded is what the URL does.
"""

import hashlib
import importlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

import campaign.services.stream_ingest as stream_ingest
import worker.count_changes
import worker.handler
import worker.s3_ingest
from campaign.aws.batches import Batches
from campaign.aws.clients import client
from campaign.aws.continuation import continuation_event
from campaign.aws.send_rows import SendRows
from campaign.aws.table_schema import BREAKER_PREFIX, PARTITION_KEY
from campaign.aws.upload_store import UPLOAD_PREFIX, upload_key
from campaign.config import (
    ENV_API_KEY,
    ENV_API_KEY_SECRET_ARN,
    ENV_LAMBDA_FUNCTION_NAME,
    ENV_SEND_MODE,
    ENV_SEND_RATE_PER_SECOND,
    ENV_SMTP_HOST,
    ENV_SMTP_PASSWORD,
    ENV_SMTP_PORT,
    ENV_SMTP_SECRET_ARN,
    ENV_SMTP_TLS,
    ENV_SMTP_USERNAME,
    ENV_UNSUBSCRIBE_KEY,
    ENV_UNSUBSCRIBE_KEY_SECRET_ARN,
    Provider,
    SmtpTls,
)
from campaign.domain.clock import to_iso
from campaign.domain.ids import batch_id_for
from campaign.domain.models import BatchRecord, BatchState
from campaign.domain.retention import Retention
from campaign.domain.unsubscribe import unsubscribe_token
from campaign.limits import (
    BREAKER_COOLDOWN_SECONDS,
    BREAKER_FAILURES_TO_OPEN,
    DEFAULT_DEDUPE_WINDOW_DAYS,
    DEFAULT_RETENTION_DAYS,
)
from scripts.local.provision import LocalResources
from scripts.local.s3_events import object_created_event
from scripts.local.sqs_poller import LocalLambdaContext, poll_once
from scripts.loopback import free_port
from tests.conftest import reset_process_caches
from tests.infra.allowlists import (
    ASYNC_ON_FAILURE,
    EVENT_SOURCE_MAPPING,
    MISSING_KEY_AS_404,
    NO_RESOURCE_ACTIONS,
    PENDING,
    platform_actions,
)
from tests.infra.terraform import MODULES_DIR, load, reference
from tests.support import TEST_API_KEY
from tests.support.apigw import http_api_event, multipart
from tests.support.aws_calls import Fault, client_error, faults
from tests.support.leases import expire_lease

# The relay stand-in takes AUTH in plain text on loopback (as the local mailbox may); aiosmtpd warns per connection.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

Permission = tuple[str, str]  # (IAM action, resource kind)

# Batch operations that IAM authorizes through the single-message action.
BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# Operations whose IAM action has another name.
RENAMED_ACTIONS = {("lambda", "Invoke"): "InvokeFunction"}
# There is no IAM action for a transaction: IAM authorizes each of its items as the single-item
# operation it performs, on that item's table (AWS: "Using IAM with DynamoDB transactions").
TRANSACT_OPERATIONS = {"TransactWriteItems", "TransactGetItems"}
TRANSACT_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
CONFIGURATION_SET = "csv-campaign-test"
API_KEY_SECRET = "csv-campaign-test/api-key"
UNSUBSCRIBE_KEY_SECRET = "csv-campaign-test/unsubscribe-key"
UNSUBSCRIBE_KEY_VALUE = "k" * 64
SMTP_SECRET = "csv-campaign-test/smtp-credentials"
SMTP_LOGIN = ("apikey", "relay-password")
# The streaming ingest's name, as the Lambda runtime gives it (AWS_LAMBDA_FUNCTION_NAME).
STREAM_INGEST_FUNCTION = "csv-campaign-test-stream-ingest"
# Every function in terraform/: the calls of modules/lambda_function.
FUNCTIONS = sorted(load().functions)
LAMBDA_MODULE = MODULES_DIR / "lambda_function"

CSV_FIRST = b"email,subject,content\nada@example.com,Hello,Hi Ada\nbob@example.com,Hello,Hi Bob\nnot-an-email,Hello,x\n"
CSV_RESUMED = b"email,subject,content\ncy@example.com,Again,Hi Cy\ndee@example.com,Again,Hi Dee\n"
# A body too large for its row: stored apart, read by the worker that sends it and by the listing.
LONG_BODY = "Hi Eve. " + "This is a long letter. " * 60
CSV_SES = f"email,subject,content\neve@example.com,Live,{LONG_BODY}\n".encode()
# Six rows: three windows of two (the fixture makes windows that small).
CSV_STREAMED = b"email,subject,content\n" + b"".join(f"big{n}@example.com,Large,Hi {n}\n".encode() for n in range(6))
QUERY = """query($batch: String!) {
  listEmailStatus(batchId: $batch) { items { sendId email status providerMessageId content } nextCursor }
  recent: listEmailStatus(first: 5) { items { email } }
  batch(batchId: $batch) { total counts { queued sent error } }
}"""
# The suppression list through the API: suppress (PutItem), a page (Query on its index), unsuppress
# (DeleteItem).
SUPPRESSION_MUTATIONS = """mutation { suppress(email: "zed@example.com", reason: COMPLAINT) { email }
  unsuppress(email: "yan@example.com") }"""
SUPPRESSION_QUERY = "{ suppressions(first: 5) { items { email reason } nextCursor } }"
# Enough sends for SES's failures to open its breaker; each one the relay then takes.
CSV_FAILOVER = b"email,subject,content\n" + b"".join(
    f"fo{n}@example.com,Failover,Hi {n}\n".encode() for n in range(BREAKER_FAILURES_TO_OPEN)
)
CSV_PROBE = b"email,subject,content\nprobe@example.com,Probe,Hi\n"
# Two sends at a rate of one every 1,000 s: the second gets no token within the invocation.
CSV_PACED = b"email,subject,content\npa1@example.com,Paced,Hi\npa2@example.com,Paced,Hi\n"


def iam_action(model: Any) -> str:
    """'dynamodb:PutItem', 'sqs:SendMessage' (for SendMessageBatch), 'ses:SendEmail' (SESv2),
    'lambda:InvokeFunction' (for Invoke)."""
    prefix = model.service_model.signing_name
    name = RENAMED_ACTIONS.get((prefix, model.name), BATCH_ACTIONS.get(model.name, model.name))
    return f"{prefix}:{name}"


class IngestCrashError(Exception):
    """Stands for the streaming-ingest Lambda dying mid-file."""


@dataclass
class CallRecorder:
    """Notes (IAM action, resource kind) for each AWS call, under the name of the Lambda making it.

    A pre-signed URL counts too (see the module docstring); `presigned` keeps those apart, and
    `operations` holds only the calls really made."""

    stack: LocalResources
    configuration_set: str
    # Secrets by ARN: the resource kind each one is (api-key-secret, unsubscribe-key-secret).
    secrets: dict[str, str]
    stream_arn: str
    calls: dict[str, set[Permission]] = field(default_factory=lambda: defaultdict(set))
    operations: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    presigned: dict[str, set[Permission]] = field(default_factory=lambda: defaultdict(set))
    # What the flows produced that the tests look at: the upload ticket, the continuation's Invoke.
    upload_ticket: dict[str, Any] = field(default_factory=dict)
    invocations: list[dict[str, Any]] = field(default_factory=list)
    _callers: list[str] = field(default_factory=list)

    def before_parameter_build(
        self, params: dict[str, Any], model: Any, context: dict[str, Any] | None = None, **_: Any
    ) -> None:
        if not self._callers:
            return  # test setup and the emulator's own provisioning
        caller = self._callers[-1]
        permissions = self.permissions(model, params)
        self.calls[caller] |= permissions
        if (context or {}).get("is_presign_request"):
            self.presigned[caller] |= permissions
        else:
            self.operations[caller].add(model.name)

    def permissions(self, model: Any, params: dict[str, Any]) -> set[Permission]:
        """What IAM checks for one call: (action, resource kind) pairs."""
        service = model.service_model.service_name
        if service == "dynamodb" and model.name in TRANSACT_OPERATIONS:
            return {
                (TRANSACT_ITEM_ACTIONS[operation], kind)
                for item in params["TransactItems"]
                for operation, request in item.items()
                for kind in self._kinds(service, request)
            }
        return {(iam_action(model), kind) for kind in self._kinds(service, params, model)}

    def _kinds(self, service: str, params: dict[str, Any], model: Any = None) -> set[str]:
        if service == "dynamodb":
            tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
            kind = "index" if "IndexName" in params else "table"
            return {kind if table == self.stack.table_name else f"unknown table {table}" for table in tables}
        if service == "sqs":
            urls = {
                self.stack.queue_url: "queue",
                self.stack.dlq_url: "dlq",
                self.stack.events_queue_url: "events-queue",
            }
            return {urls.get(params["QueueUrl"], f"unknown queue {params['QueueUrl']}")}
        if service == "sesv2":
            if model.name == "GetAccount":
                return {"*"}  # the account's own settings and quota: no resource
            sender = params["FromEmailAddress"]
            kinds = {"ses-identity" if sender == self.stack.sender_address else f"unknown sender {sender}"}
            if "ConfigurationSetName" in params:
                name = params["ConfigurationSetName"]
                kinds.add("ses-configuration-set" if name == self.configuration_set else f"unknown set {name}")
            return kinds
        if service == "secretsmanager":
            secret = params["SecretId"]
            return {self.secrets.get(secret, f"unknown secret {secret}")}
        if service == "s3":
            bucket, key = params.get("Bucket"), params.get("Key", "")
            if bucket == self.stack.upload_bucket and key.startswith(UPLOAD_PREFIX):
                return {"upload-objects"}
            return {f"unknown object s3://{bucket}/{key}"}
        if service == "lambda":
            name = params["FunctionName"]
            return {"stream-ingest-function" if name == STREAM_INGEST_FUNCTION else f"unknown function {name}"}
        if service == "dynamodbstreams":
            if "StreamArn" in params or "ShardIterator" in params:
                # GetRecords names no stream: a shard iterator starts with its stream's ARN (as AWS's do).
                arn = params.get("StreamArn") or str(params["ShardIterator"]).split("|", 1)[0]
                return {"stream" if arn == self.stream_arn else f"unknown stream {arn}"}
            table = params.get("TableName")  # ListStreams: one table's streams, or the account's
            return {"stream" if table == self.stack.table_name else f"unknown streams of {table}"}
        return {f"unrecognised {service} resource"}

    @contextmanager
    def acting_as(self, caller: str) -> Iterator[None]:
        self._callers.append(caller)
        try:
            yield
        finally:
            self._callers.pop()

    def wrap(self, caller: str, handler: Callable[[dict[str, Any], Any], Any]) -> Callable[[dict[str, Any], Any], Any]:
        def wrapped(event: dict[str, Any], context: Any) -> Any:
            with self.acting_as(caller):
                return handler(event, context)

        return wrapped


def _api_call(
    handler: Callable[..., Any],
    route_key: str,
    *,
    body: bytes = b"",
    content_type: str = "",
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
) -> Any:
    assert route_key in load().locals["api_routes"], f"{route_key} is not routed by terraform/api.tf"
    method, path = route_key.split(" ", 1)
    for name, value in (path_parameters or {}).items():
        path = path.replace(f"{{{name}}}", value)
    event = http_api_event(
        "POST" if method == "ANY" else method,
        path,
        body=body,
        headers={"content-type": content_type} if content_type else None,
    )
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    if query:
        event["rawQueryString"] = urlencode(query)
        event["queryStringParameters"] = query
    response = handler(event, LocalLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def _upload(handler: Callable[..., Any], content: bytes) -> tuple[int, dict[str, Any]]:
    body, content_type = multipart("file", "campaign.csv", content)
    status, answer = _api_call(handler, "POST /upload", body=body, content_type=content_type)
    return status, answer


def _graphql(handler: Callable[..., Any], batch_id: str) -> dict[str, Any]:
    body = json.dumps({"query": QUERY, "variables": {"batch": batch_id}}).encode()
    status, answer = _api_call(handler, "ANY /graphql", body=body, content_type="application/json")
    assert status == 200 and "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def _graphql_document(handler: Callable[..., Any], document: str) -> dict[str, Any]:
    body = json.dumps({"query": document}).encode()
    status, answer = _api_call(handler, "ANY /graphql", body=body, content_type="application/json")
    assert status == 200 and "errors" not in answer, answer
    data: dict[str, Any] = answer["data"]
    return data


def _keep_the_api_key_in_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> str:
    """As deployed: the ingestor gets the secret's ARN, not the key."""
    arn: str = client("secretsmanager").create_secret(Name=API_KEY_SECRET, SecretString=TEST_API_KEY)["ARN"]
    monkeypatch.setenv(ENV_API_KEY_SECRET_ARN, arn)
    monkeypatch.delenv(ENV_API_KEY, raising=False)
    return arn


def _keep_the_unsubscribe_key_in_secrets_manager(monkeypatch: pytest.MonkeyPatch) -> str:
    """As deployed: the worker gets the secret's ARN, not the key."""
    secret = client("secretsmanager").create_secret(Name=UNSUBSCRIBE_KEY_SECRET, SecretString=UNSUBSCRIBE_KEY_VALUE)
    arn: str = secret["ARN"]
    monkeypatch.setenv(ENV_UNSUBSCRIBE_KEY_SECRET_ARN, arn)
    monkeypatch.delenv(ENV_UNSUBSCRIBE_KEY, raising=False)
    return arn


class _Relay:
    """An SMTP relay on loopback (aiosmtpd) that wants the login kept in the secret, and keeps what arrives."""

    def __init__(self) -> None:
        self.recipients: list[str] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.recipients += envelope.rcpt_tos
        return "250 OK"

    def authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
        login = LoginPassword(SMTP_LOGIN[0].encode(), SMTP_LOGIN[1].encode())
        return AuthResult(success=data == login, handled=False)


@contextmanager
def _smtp_relay() -> Iterator[tuple[_Relay, int]]:
    relay, port = _Relay(), free_port()
    # Plain text with AUTH is for loopback only (the sender refuses it elsewhere; Terraform refuses "none").
    controller = Controller(
        relay,
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        auth_required=True,
        auth_require_tls=False,
        authenticator=relay.authenticate,
    )
    controller.start()
    try:
        yield relay, port
    finally:
        controller.stop()


def _breaker(stack: LocalResources, provider: Provider) -> dict[str, Any] | None:
    key = {PARTITION_KEY: {"S": BREAKER_PREFIX + provider.value}}
    item: dict[str, Any] | None = client("dynamodb").get_item(TableName=stack.table_name, Key=key).get("Item")
    return item


def _end_the_cooldown(stack: LocalResources, provider: Provider) -> None:
    """The breaker opened longer ago than the cooldown: the next send through it is the probe."""
    client("dynamodb").update_item(
        TableName=stack.table_name,
        Key={PARTITION_KEY: {"S": BREAKER_PREFIX + provider.value}},
        UpdateExpression="SET openedAt = openedAt - :age",
        ExpressionAttributeValues={":age": {"N": str(BREAKER_COOLDOWN_SECONDS + 1)}},
    )


def _send_through_both_providers(
    api: Callable[..., Any],
    stack: LocalResources,
    drain: Any,
    secrets: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The worker with two providers: SES then the SMTP relay (its login in Secrets Manager). SES failing opens its
    breaker (UpdateItem of BREAKER#ses) while the relay takes the sends; after the cooldown one send
    probes SES and closes the breaker (DeleteItem); a low fleet rate puts a send back on the send queue,
    delayed (SendMessageBatch). GetAccount reads the SES account's rate, BatchGetItem the breakers."""
    login = json.dumps({"username": SMTP_LOGIN[0], "password": SMTP_LOGIN[1]})
    arn: str = client("secretsmanager").create_secret(Name=SMTP_SECRET, SecretString=login)["ARN"]
    secrets[arn] = "smtp-secret"
    with _smtp_relay() as (relay, port):
        for name, value in {
            ENV_SEND_MODE: f"{Provider.SES},{Provider.SMTP}",
            ENV_SMTP_HOST: "127.0.0.1",
            ENV_SMTP_PORT: str(port),
            ENV_SMTP_TLS: SmtpTls.NONE.value,
            ENV_SMTP_SECRET_ARN: arn,
        }.items():
            monkeypatch.setenv(name, value)
        for name in (ENV_SMTP_USERNAME, ENV_SMTP_PASSWORD, ENV_SEND_RATE_PER_SECOND):
            monkeypatch.delenv(name, raising=False)
        reset_process_caches()
        # SES fails (a 500: not accepted, safe elsewhere) until its breaker opens; the relay takes each send
        status, failover = _upload(api, CSV_FAILOVER)
        assert (status, failover["enqueued"]) == (201, BREAKER_FAILURES_TO_OPEN), failover
        unavailable = [client_error("InternalFailure", "SES unavailable", 500)] * BREAKER_FAILURES_TO_OPEN
        with faults("sesv2", "SendEmail", list(unavailable), single_attempt=True):
            drain()
        assert sorted(relay.recipients) == sorted(f"fo{n}@example.com" for n in range(BREAKER_FAILURES_TO_OPEN))
        assert {row["status"] for row in _graphql(api, failover["batchId"])["listEmailStatus"]["items"]} == {"SENT"}
        opened = _breaker(stack, Provider.SES)
        assert opened is not None and "openedAt" in opened, opened
        # After the cooldown one send probes SES, which takes it: the breaker closes
        _end_the_cooldown(stack, Provider.SES)
        status, probe = _upload(api, CSV_PROBE)
        assert (status, probe["enqueued"]) == (201, 1), probe
        drain()
        assert _breaker(stack, Provider.SES) is None
        assert "probe@example.com" not in relay.recipients
        # A fleet rate far under the batch's size: a send that gets no token goes back on the queue
        monkeypatch.setenv(ENV_SEND_RATE_PER_SECOND, "0.001")
        reset_process_caches()
        status, paced = _upload(api, CSV_PACED)
        assert (status, paced["enqueued"]) == (201, 2), paced
        before = _queued_messages(stack)
        drain()
        statuses = sorted(row["status"] for row in _graphql(api, paced["batchId"])["listEmailStatus"]["items"])
        assert statuses == ["QUEUED", "SENT"], statuses
        assert _queued_messages(stack) == before - 2 + 1  # both received, the deferred one back, delayed
    monkeypatch.setenv(ENV_SEND_MODE, Provider.SES.value)
    for name in (ENV_SMTP_HOST, ENV_SMTP_PORT, ENV_SMTP_TLS, ENV_SMTP_SECRET_ARN, ENV_SEND_RATE_PER_SECOND):
        monkeypatch.delenv(name)
    reset_process_caches()


def _queued_messages(stack: LocalResources) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed"]
    attributes = client("sqs").get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def _leave_an_abandoned_ingest(stack: LocalResources, content: bytes) -> None:
    """An ingest whose Lambda died: the batch is INGESTING and its lease has lapsed."""
    past = datetime.now(UTC) - timedelta(hours=1)
    record = BatchRecord(
        batch_id=batch_id_for(content),
        created_at=to_iso(past),
        state=BatchState.INGESTING,
        total=2,
        skipped=0,
        lease_until=to_iso(past),
    )
    Batches(stack.table_name, Retention(DEFAULT_DEDUPE_WINDOW_DAYS, DEFAULT_RETENTION_DAYS)).claim(record)


def _stream_a_large_upload(
    recorder: CallRecorder, api: Callable[..., Any], stack: LocalResources, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /uploads, the client's PUT, then every path of the streaming ingest: a crash mid-file, S3's
    duplicate event while the crashed ingest's lease still holds, Lambda's retry taking over and
    resuming, a hand-over to a continuation (an asynchronous self-invocation), the continuation, and
    GET /uploads/{id}."""
    monkeypatch.setenv(ENV_LAMBDA_FUNCTION_NAME, STREAM_INGEST_FUNCTION)  # set by the Lambda runtime
    monkeypatch.setattr(stream_ingest, "STREAM_WINDOW_ROWS", 2)
    stream = recorder.wrap("stream_ingest", worker.s3_ingest.handler)
    batch_id = batch_id_for(CSV_STREAMED)
    request = {"sha256": hashlib.sha256(CSV_STREAMED).hexdigest(), "size": len(CSV_STREAMED)}
    status, ticket = _api_call(api, "POST /uploads", body=json.dumps(request).encode(), content_type="application/json")
    assert (status, ticket["batchId"]) == (201, batch_id), ticket
    recorder.upload_ticket = ticket
    # The client's PUT (played by boto3 outside any Lambda: moto does not check pre-signed URLs)
    client("s3").put_object(Bucket=stack.upload_bucket, Key=upload_key(batch_id), Body=CSV_STREAMED)
    event = object_created_event(stack.upload_bucket, upload_key(batch_id), len(CSV_STREAMED))

    def context(remaining_ms: int) -> LocalLambdaContext:
        return LocalLambdaContext(function_name=STREAM_INGEST_FUNCTION, remaining_ms=remaining_ms)

    # The first attempt dies in its second window (after a checkpoint)
    crash: list[Fault] = [None, IngestCrashError("Lambda stopped")]
    with faults("sqs", "SendMessageBatch", crash), pytest.raises(IngestCrashError):
        stream(event, context(900_000))
    # S3 delivers the event again while the lease holds: the ingest reads the batch again (GetItem) after
    # waiting for a renewal, and leaves it. The wait is skipped here; it would last the lease (60 s).
    monkeypatch.setattr(worker.s3_ingest, "ingest_upload", partial(stream_ingest.ingest_upload, sleep=lambda _: None))
    assert stream(event, context(900_000)) == {batch_id: "nothing_to_do"}
    # Lambda's retry, once the lease has lapsed, takes over and resumes (BatchGetItem), then runs short
    # of time and hands over to a continuation. moto cannot run the function: the Invoke is answered here.
    expire_lease(stack, batch_id)
    with faults("lambda", "Invoke", [{"StatusCode": 202}]) as invocations:
        assert stream(event, context(1_000)) == {batch_id: "continue"}
    recorder.invocations = invocations
    # The continuation finishes the file
    assert stream(continuation_event(batch_id), context(900_000)) == {batch_id: "done"}
    status, progress = _api_call(api, "GET /uploads/{upload_id}", path_parameters={"upload_id": batch_id})
    assert (status, progress["state"], progress["enqueued"]) == (200, "DONE", 6), progress


@pytest.fixture
def recorded(stack: LocalResources, drain: Any, count_changes: Any, monkeypatch: pytest.MonkeyPatch) -> CallRecorder:
    """Run every flow of every Lambda on moto and return the calls each made.

    The event source stand-ins (`drain`: the SQS poller, then the stream poller) run as
    "event-source-mapping"; the handlers they invoke run as their functions."""
    stream_arn = client("dynamodb").describe_table(TableName=stack.table_name)["Table"]["LatestStreamArn"]
    secrets = {_keep_the_api_key_in_secrets_manager(monkeypatch): "api-key-secret"}
    recorder = CallRecorder(stack, CONFIGURATION_SET, secrets, stream_arn=stream_arn)
    session = boto3.Session()
    session.events.register("before-parameter-build", recorder.before_parameter_build)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
    reset_process_caches()  # the cached clients (the stream poller's too) are rebuilt from the hooked session
    # Imported only now, as Lambda imports it after setting the environment (it reads its settings).
    api = recorder.wrap("ingestor", importlib.import_module("app.handler").handler)
    monkeypatch.setattr(worker.handler, "handler", recorder.wrap("worker", worker.handler.handler))
    # The stream consumer, which `drain` (and `count_changes`) invoke after the worker
    monkeypatch.setattr(worker.count_changes, "handler", recorder.wrap("counts", worker.count_changes.handler))

    # Upload, list, count, re-upload
    status, first = _upload(api, CSV_FIRST)
    assert (status, first["enqueued"]) == (201, 2), first
    _graphql(api, first["batchId"])
    assert _upload(api, CSV_FIRST)[1]["duplicate"] is True
    # Suppress, list and unsuppress addresses
    assert _graphql_document(api, SUPPRESSION_MUTATIONS) == {
        "suppress": {"email": "zed@example.com"},
        "unsuppress": False,
    }
    assert _graphql_document(api, SUPPRESSION_QUERY)["suppressions"]["items"] == [
        {"email": "zed@example.com", "reason": "COMPLAINT"}
    ]
    assert _graphql_document(api, 'mutation { unsuppress(email: "zed@example.com") }') == {"unsuppress": True}
    # Resume an ingest whose Lambda died (lease takeover, then BatchGetItem of the rows written so far)
    _leave_an_abandoned_ingest(stack, CSV_RESUMED)
    status, resumed = _upload(api, CSV_RESUMED)
    assert (status, resumed["enqueued"]) == (200, 2), resumed
    # The worker, in dry-run mode, fed by the event source stand-in
    with recorder.acting_as("event-source-mapping"):
        drain()
    # The worker sending through SES with a configuration set, its unsubscribe key in Secrets Manager
    secrets[_keep_the_unsubscribe_key_in_secrets_manager(monkeypatch)] = "unsubscribe-key-secret"
    monkeypatch.setenv("SEND_MODE", "ses")
    monkeypatch.setenv("SES_CONFIGURATION_SET", CONFIGURATION_SET)
    reset_process_caches()
    status, live = _upload(api, CSV_SES)
    assert (status, live["enqueued"]) == (201, 1), live
    with recorder.acting_as("event-source-mapping"):
        drain()

    # Every flow really happened, and the stream consumer counted it
    answer = _graphql(api, live["batchId"])
    sent = answer["listEmailStatus"]["items"]
    assert [(row["status"], bool(row["providerMessageId"]), row["content"]) for row in sent] == [
        ("SENT", True, LONG_BODY)
    ]
    assert answer["batch"]["counts"] == {"queued": 0, "sent": 1, "error": 0}
    assert {row["status"] for row in _graphql(api, first["batchId"])["listEmailStatus"]["items"]} == {"SENT"}

    # SES reports that the message hard-bounced: the worker's second event source records it on the row
    # and suppresses the address
    bounce = {
        "eventType": "Bounce",
        "mail": {"messageId": "ses-1", "tags": {"sendId": [sent[0]["sendId"]]}},
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": sent[0]["email"]}]},
    }
    client("sqs").send_message(QueueUrl=stack.events_queue_url, MessageBody=json.dumps(bounce))
    with recorder.acting_as("event-source-mapping"):
        events = poll_once(stack.events_queue_url, stack.events_queue_arn, worker.handler.handler, wait_seconds=0)
    assert (events.received, events.failed) == (1, 0)

    # The recipient follows the message's one-click unsubscribe link (the API reads the key's secret)
    (row,) = [SendRows(stack.table_name).get(item["sendId"]) for item in sent]
    assert row is not None
    token = unsubscribe_token(UNSUBSCRIBE_KEY_VALUE.encode(), row.send_id, row.batch_id, row.email.lower())
    one_click = b"List-Unsubscribe=One-Click"
    form = "application/x-www-form-urlencoded"
    status, done = _api_call(api, "POST /unsubscribe", body=one_click, content_type=form, query={"t": token})
    assert (status, done["newly"]) == (200, False), done  # suppressed already, by the bounce

    # Both providers, a breaker opening and closing, and a send deferred by the fleet's rate
    _send_through_both_providers(api, stack, drain, secrets, monkeypatch)

    # A large upload, through the bucket and the streaming ingest, then its rows counted
    _stream_a_large_upload(recorder, api, stack, monkeypatch)
    with recorder.acting_as("event-source-mapping"):
        count_changes()
    streamed = _graphql(api, batch_id_for(CSV_STREAMED))["batch"]
    assert (streamed["total"], streamed["counts"]) == (6, {"queued": 6, "sent": 0, "error": 0}), streamed
    return recorder


# ---------------------------------------------------------------------------------------------------
# The policies as Terraform writes them
# ---------------------------------------------------------------------------------------------------


def _resource_kind(expression: str) -> str:
    kinds = {
        "${aws_dynamodb_table.this.arn}": "table",
        "${aws_dynamodb_table.this.arn}/index/*": "index",
        "${module.sends.arn}": "queue",
        "${module.sends.dlq_arn}": "dlq",
        "${module.ses_events.arn}": "events-queue",
        "${aws_sesv2_email_identity.this.arn}": "ses-identity",
        "${aws_sesv2_configuration_set.this.arn}": "ses-configuration-set",
        "${aws_secretsmanager_secret.api_key.arn}": "api-key-secret",
        "${aws_secretsmanager_secret.unsubscribe_key.arn}": "unsubscribe-key-secret",
        "${aws_secretsmanager_secret.smtp.arn}": "smtp-secret",
        "${aws_s3_bucket.uploads.arn}/${local.upload_prefix}*": "upload-objects",
        "${aws_s3_bucket.uploads.arn}": "upload-bucket",
        "${local.stream_ingest_function_arn}": "stream-ingest-function",
        "${aws_sqs_queue.stream_ingest_failures.arn}": "stream-ingest-failures",
        "${aws_dynamodb_table.this.stream_arn}": "stream",
        "${aws_sqs_queue.counts_failures.arn}": "counts-failures",
        "*": "*",
    }
    if expression in kinds:
        return kinds[expression]
    if expression.startswith("${aws_cloudwatch_log_group.") and expression.endswith(".arn}:*"):
        return "log-group:" + expression.split(".")[1]
    raise AssertionError(f"a policy names a resource the tests do not know: {expression}")


def _document(config: Any, expression: str) -> dict[str, Any]:
    """The aws_iam_policy_document whose json `expression` is."""
    document = reference(expression)
    assert document is not None and document.startswith("data.aws_iam_policy_document.") and document.endswith(".json")
    spec: dict[str, Any] = config.data["aws_iam_policy_document"][document.split(".")[2]]
    return spec


def _policy_statements(function: str) -> list[dict[str, Any]]:
    """The statements of every policy on the function's execution role: modules/lambda_function's one inline
    policy, which is the call's own document (policy_json) followed by the module's statements."""
    module = load(LAMBDA_MODULE)
    role_ref = reference(module.resource("aws_lambda_function", "this")["role"])
    assert role_ref == "aws_iam_role.this.arn"
    # Only our inline policy: no managed policies (AWSLambdaBasicExecutionRole allows logs on *).
    assert not {"managed_policy_arns", "inline_policy"} & set(module.resource("aws_iam_role", "this"))
    for config in (module, load()):
        assert "aws_iam_role_policy_attachment" not in config.resources
        assert "aws_iam_role" not in config.resources or config is module, "a role outside the module"
    (policy,) = module.resources["aws_iam_role_policy"].values()
    assert reference(policy["role"]) == "aws_iam_role.this.id"
    document = _document(module, policy["policy"])
    assert document["source_policy_documents"] == ["${var.policy_json}"]
    own = _document(load(), load().function(function)["policy_json"])
    statements: list[dict[str, Any]] = own.get("statement", []) + _dynamic_statements(own) + document["statement"]
    assert statements, f"the {function} role has no policy"
    return statements


def _dynamic_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """A statement that exists once per instance of a counted resource (`dynamic "statement"` over it),
    with `statement.value` standing for that resource: granted here as if the resource existed. The
    flows run with every optional resource in use (the SMTP relay's secret)."""
    statements = []
    for block in document.get("dynamic", []):
        for kind, spec in block.items():
            assert kind == "statement", kind
            source = reference(spec["for_each"])
            assert source is not None and source.count(".") == 1, f"for_each over a resource: {spec['for_each']}"
            (content,) = spec["content"]
            resources = [r.replace("${statement.value.", f"${{{source}.") for r in content["resources"]]
            statements.append(content | {"resources": resources})
    return statements


def _granted(function: str) -> set[Permission]:
    granted = set()
    for statement in _policy_statements(function):
        assert statement.get("effect", "Allow") == "Allow"
        assert not {"not_actions", "not_resources", "principals"} & set(statement)
        granted |= {(a, _resource_kind(r)) for a in statement["actions"] for r in statement["resources"]}
    return granted


def _own_log_group(function: str) -> str:
    """The log group the function logs to: the module's, which each call of it has its own of."""
    assert function in load().functions
    log_group = reference(load(LAMBDA_MODULE).resource("aws_lambda_function", "this")["logging_config"][0]["log_group"])
    assert log_group is not None
    return log_group.split(".")[1]


def _expected(function: str, recorded: CallRecorder) -> set[Permission]:
    pending = PENDING.get(function, {}).get("actions", frozenset())
    assert not pending & recorded.calls[function], "the code makes these calls now: remove them from PENDING"
    return (
        recorded.calls[function]
        | platform_actions(_own_log_group(function))
        | EVENT_SOURCE_MAPPING.get(function, frozenset())
        | ASYNC_ON_FAILURE.get(function, frozenset())
        | MISSING_KEY_AS_404.get(function, frozenset())
        | {p for p in pending if isinstance(p, tuple)}
    )


# ---------------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------------


def test_the_flows_exercise_every_gateway_operation(recorded: CallRecorder) -> None:
    # Given the AWS calls each function made in the recorded flows (the fixture)
    # Then the recording is complete enough to judge the policies by
    assert recorded.operations["ingestor"] == {
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "GetItem",
        "BatchWriteItem",
        "BatchGetItem",
        "Query",
        "TransactWriteItems",
        "SendMessageBatch",
        "GetSecretValue",
    }
    assert recorded.operations["worker"] == {
        "UpdateItem",
        "GetItem",
        "BatchGetItem",
        "PutItem",
        "DeleteItem",
        "SendEmail",
        "GetAccount",
        "SendMessageBatch",
        "GetSecretValue",
    }
    # And the worker read both secrets and the SES account's rate, and put deferred sends back on the queue
    assert {
        ("secretsmanager:GetSecretValue", "unsubscribe-key-secret"),
        ("secretsmanager:GetSecretValue", "smtp-secret"),
        ("ses:GetAccount", "*"),
        ("sqs:SendMessage", "queue"),
    } <= recorded.calls["worker"]
    assert recorded.operations["stream_ingest"] == {
        "GetObject",
        "PutItem",
        "TransactWriteItems",
        "UpdateItem",
        "GetItem",
        "BatchWriteItem",
        "BatchGetItem",
        "SendMessageBatch",
        "Invoke",
    }
    assert recorded.operations["counts"] == {"TransactWriteItems"}
    assert set(recorded.operations) == set(FUNCTIONS) | {"event-source-mapping"}


def test_a_transaction_is_authorized_item_by_item(recorded: CallRecorder) -> None:
    # Given the transactions the flows made: message keys and batch counts (conditional Updates)
    # Then each is held to the actions of its items, and no role is asked for a "TransactWriteItems" action
    assert ("dynamodb:UpdateItem", "table") in recorded.calls["ingestor"]
    assert recorded.calls["counts"] == {("dynamodb:UpdateItem", "table")}
    assert not [p for calls in recorded.calls.values() for p in calls if p[0].startswith("dynamodb:Transact")]
    # And every kind of item maps to its own action, on its own table
    model = client("dynamodb").meta.service_model.operation_model("TransactWriteItems")
    items = [
        {"Put": {"TableName": recorded.stack.table_name}},
        {"Update": {"TableName": recorded.stack.table_name}},
        {"Delete": {"TableName": recorded.stack.table_name}},
        {"ConditionCheck": {"TableName": "other"}},
    ]
    assert recorded.permissions(model, {"TransactItems": items}) == {
        ("dynamodb:PutItem", "table"),
        ("dynamodb:UpdateItem", "table"),
        ("dynamodb:DeleteItem", "table"),
        ("dynamodb:ConditionCheckItem", "unknown table other"),
    }


def test_presigned_upload_is_a_put_of_one_upload_object(recorded: CallRecorder) -> None:
    # Given the upload ticket POST /uploads answered
    ticket = recorded.upload_ticket
    url = urlsplit(ticket["upload"]["url"])
    bucket = recorded.stack.upload_bucket
    path = url.path.lstrip("/")
    key = path if url.netloc.startswith(f"{bucket}.") else path.removeprefix(f"{bucket}/")
    # Then the URL PUTs the batch's object under the upload prefix, bound to the declared checksum
    assert ticket["upload"]["method"] == "PUT"
    assert bucket in (url.netloc.split(".")[0], url.path.split("/")[1])
    assert key == upload_key(ticket["batchId"]) and key.startswith(UPLOAD_PREFIX)
    assert "x-amz-checksum-sha256" in parse_qs(url.query)["X-Amz-SignedHeaders"][0].split(";")
    # And that is the one permission pre-signing needed, and the only one the ingestor has on S3
    assert recorded.presigned == {"ingestor": {("s3:PutObject", "upload-objects")}}
    assert {p for p in recorded.calls["ingestor"] if p[0].startswith("s3:")} == {("s3:PutObject", "upload-objects")}


def test_the_continuation_invokes_the_function_itself_asynchronously(recorded: CallRecorder) -> None:
    # Given the one Lambda invocation recorded in the flows (the fixture): a large upload's continuation
    (invoke,) = recorded.invocations
    # Then the streaming ingest invoked itself, asynchronously, for the batch, as its role allows
    assert (invoke["FunctionName"], invoke["InvocationType"]) == (STREAM_INGEST_FUNCTION, "Event")
    assert json.loads(invoke["Payload"]) == continuation_event(recorded.upload_ticket["batchId"])
    assert recorded.calls["stream_ingest"] >= {("lambda:InvokeFunction", "stream-ingest-function")}


@pytest.mark.parametrize("function", FUNCTIONS)
def test_policy_allows_exactly_what_the_code_calls(function: str, recorded: CallRecorder) -> None:
    # Given what the function's code called, plus the reasoned allowances
    expected = _expected(function, recorded)
    # When the role's policy is read from Terraform
    granted = _granted(function)
    # Then nothing the code calls is refused, and nothing else is allowed
    assert expected - granted == set(), "called but not allowed"
    assert granted - expected == set(), "allowed but never called"


def test_event_source_stand_in_stays_within_the_mapping_allowance(recorded: CallRecorder) -> None:
    # Given the calls of the local pollers, which do what Lambda's event source mappings do (the fixture)
    stand_in = recorded.calls["event-source-mapping"]
    # Then they need no more than listed, and both stand-ins ran (the queue's for the worker, the
    # stream's for the counts consumer)
    assert stand_in <= EVENT_SOURCE_MAPPING["worker"] | EVENT_SOURCE_MAPPING["counts"]
    assert stand_in & EVENT_SOURCE_MAPPING["worker"]
    assert stand_in & EVENT_SOURCE_MAPPING["counts"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_star_resources_only_where_aws_allows_nothing_else(function: str) -> None:
    # Given the actions the function's policy grants on every resource ("*")
    star = {action for action, kind in _granted(function) if kind == "*"}
    # Then each is one AWS allows on no narrower resource
    assert star <= NO_RESOURCE_ACTIONS


def test_worker_may_send_only_as_the_configured_sender() -> None:
    # Given the worker's policy statement that allows sending through SES
    config = load()
    (ses,) = [s for s in _policy_statements("worker") if "ses:SendEmail" in s["actions"]]
    (condition,) = ses["condition"]
    # Then it allows sending from the configured sender address only
    assert (condition["test"], condition["variable"]) == ("StringEquals", "ses:FromAddress")
    sender = config.lambda_variables("worker")["SENDER_ADDRESS"]
    assert condition["values"] == [sender]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_metrics_need_no_cloudwatch_permission(function: str) -> None:
    # Given the function's policy statements
    # Then none grants PutMetricData: Powertools Metrics writes Embedded Metric Format lines to the
    # function's log group, with no API call
    assert not [s for s in _policy_statements(function) if "cloudwatch:PutMetricData" in s["actions"]]


def test_roles_are_assumed_by_lambda_only() -> None:
    # Given the roles' trust policy (modules/lambda_function's, the one role of every function)
    module = load(LAMBDA_MODULE)
    trust = _document(module, module.resource("aws_iam_role", "this")["assume_role_policy"])
    assert trust is module.data["aws_iam_policy_document"]["assume"]
    (statement,) = module.data["aws_iam_policy_document"]["assume"]["statement"]
    # Then Lambda alone may assume them
    assert statement["actions"] == ["sts:AssumeRole"]
    assert statement["principals"] == [{"type": "Service", "identifiers": ["lambda.amazonaws.com"]}]


def test_the_smtp_secret_is_readable_only_while_it_exists() -> None:
    # Given the worker's policy statement for the relay's secret
    (dynamic,) = load().data["aws_iam_policy_document"]["worker"]["dynamic"]
    # Then the worker may read the relay's login once per instance of the secret: never when there is none
    assert dynamic["statement"]["for_each"] == "${aws_secretsmanager_secret.smtp}"
    assert load().resource("aws_secretsmanager_secret", "smtp")["count"] == "${local.smtp_is_provider ? 1 : 0}"
    (content,) = dynamic["statement"]["content"]
    assert (content["actions"], content["resources"]) == (["secretsmanager:GetSecretValue"], ["${statement.value.arn}"])
