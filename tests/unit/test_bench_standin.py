"""The pace benchmark's AWS stand-in (scripts/bench/aws_standin.py) against moto: the same scripted
gateway calls, run once on in-process moto (the `stack` fixture's real table and queues) and once on
the stand-in (provisioned the way the bench does), must give the same outcomes. The calls are the
project's own (SendRows, SendPace, Breakers, Suppressions, SendQueue and the poller's receive): what
the bench's worker instances make. Clocks are injected where a gateway takes one, so both runs see
the same times; ids the services choose (message ids, receipt handles, URLs) are left out.
"""

import hashlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from campaign.aws.breakers import Breakers
from campaign.aws.clients import client
from campaign.aws.send_pace import SendPace
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import Claimed, SendRows
from campaign.aws.suppressions import Suppressions
from campaign.domain.breaker import BreakerPolicy
from campaign.domain.models import SendRow, SuppressionReason
from campaign.domain.status import EmailStatus, ErrorKind
from scripts.bench.aws_standin import RESET_PATH, StandIn, _Server, control, provision_standin
from scripts.local.provision import LocalResources
from scripts.local.sqs_poller import receive
from tests.conftest import reset_process_caches

T0 = 1_800_000_000.0
CREATED = "2027-01-15T10:00:00.000000Z"
EXPIRES = 1_900_000_000
QUEUE_COUNTERS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)

Scenario = Callable[[LocalResources], Any]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def standin_endpoint() -> Iterator[str]:
    """The stand-in's server on a free port, in a thread of this process (the bench runs the same
    server in a process of its own)."""
    server = _Server(("127.0.0.1", 0), StandIn())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def on_both(
    stack: LocalResources, standin_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Scenario], tuple[Any, Any]]:
    """Run a scenario on moto, then on the (reset) stand-in; returns both outcomes."""

    def run(scenario: Scenario) -> tuple[Any, Any]:
        on_moto = scenario(stack)
        control(standin_endpoint, RESET_PATH)
        monkeypatch.setenv("AWS_ENDPOINT_URL", standin_endpoint)
        reset_process_caches()
        try:
            on_standin = scenario(provision_standin("test"))
        finally:
            monkeypatch.delenv("AWS_ENDPOINT_URL")
            reset_process_caches()
        return on_moto, on_standin

    return run


def _row(name: str, status: EmailStatus = EmailStatus.QUEUED, **changes: Any) -> SendRow:
    return SendRow(
        send_id=f"send-{name}",
        batch_id="batch-1",
        seq=int(name[-1]),
        email=f"{name}@example.com",
        subject="Hello",
        status=status,
        created_at=CREATED,
        updated_at=CREATED,
        content="Hi there",
        **changes,
    )


def _claim(rows: SendRows, send_id: str, now: str) -> tuple[str, tuple[Any, ...]]:
    result = rows.claim(send_id, now)
    return type(result).__name__, tuple(result)  # Claimed and NotClaimable are equal as tuples


def _claimed(rows: SendRows, send_id: str, now: str) -> SendRow:
    result = rows.claim(send_id, now)
    assert isinstance(result, Claimed)
    return result.row


def _error_code(call: Callable[[], Any]) -> str:
    try:
        call()
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])
    return "no error"


def test_send_rows_claim_finish_unclaim_and_release_alike(on_both: Callable[[Scenario], tuple[Any, Any]]) -> None:
    # Given rows created in bulk as the bench preloads them: two queued, one already sent
    def scenario(stack: LocalResources) -> list[Any]:
        rows = SendRows(stack.table_name)
        rows.create([_row("r1"), _row("r2"), _row("r3", EmailStatus.SENT, attempts=1)], EXPIRES)
        seen: list[Any] = []
        # When each path of the worker's row changes is taken
        first = _claim(rows, "send-r1", "2027-01-15T10:00:01.000000Z")
        seen += [first, _claim(rows, "send-r1", "2027-01-15T10:00:02.000000Z"), _claim(rows, "send-r3", "x")]
        seen.append(_claim(rows, "send-missing", "x"))
        claimed = first[1][0]
        seen.append(
            rows.finish(
                claimed, "2027-01-15T10:00:03.000000Z", EmailStatus.SENT, provider="ses", provider_message_id="m-1"
            )
        )
        seen.append(rows.finish(claimed, "2027-01-15T10:00:04.000000Z", EmailStatus.SENT))  # the claim is gone
        second = _claimed(rows, "send-r2", "2027-01-15T10:00:05.000000Z")
        seen.append(rows.unclaim(second, "2027-01-15T10:00:06.000000Z"))
        third = _claimed(rows, "send-r2", "2027-01-15T10:00:07.000000Z")
        seen.append(rows.release(third, "2027-01-15T10:00:08.000000Z", error="throttled"))
        seen.append(rows.release(third, "2027-01-15T10:00:09.000000Z", error="again"))
        fourth = _claimed(rows, "send-r2", "2027-01-15T10:00:10.000000Z")
        seen.append(
            rows.finish(
                fourth, "2027-01-15T10:00:11.000000Z", EmailStatus.ERROR, error="no", error_kind=ErrorKind.PERMANENT
            )
        )
        seen.append(rows.put_new(_row("r4"), EXPIRES))
        seen.append(rows.put_new(_row("r4"), EXPIRES))
        seen.append(sorted(rows.existing(["send-r1", "send-r2", "send-r3", "send-r4", "send-none"]).items()))
        return seen

    on_moto, on_standin = on_both(scenario)

    # Then the stand-in answers as moto does, and the script took the paths it meant to
    assert on_standin == on_moto
    assert [outcome[0] for outcome in on_moto[:4]] == ["Claimed", "NotClaimable", "NotClaimable", "Missing"]
    assert on_moto[4:11] == [True, False, True, True, False, True, True]
    assert on_moto[11] is False
    final = dict(on_moto[12])
    assert final["send-r1"].status is EmailStatus.SENT and final["send-r1"].provider_message_id == "m-1"
    assert final["send-r2"].claims == 2 and final["send-r2"].attempts == 2 and final["send-r2"].error == "no"


def test_send_pace_reservations_alike(on_both: Callable[[Scenario], tuple[Any, Any]]) -> None:
    # Given two instances' buckets on one table at 10/s, on one clock
    def scenario(stack: LocalResources) -> list[Any]:
        clock = Clock()
        first, second = (SendPace(stack.table_name, 10.0, clock) for _ in range(2))
        seen: list[Any] = []

        def reserve(pace: SendPace, wanted: int, horizon: float) -> None:
            granted = pace.reserve(wanted, horizon)
            seen.append((granted.count, granted.next_free_at, [granted.slot(i) for i in range(granted.count)]))

        # When they reserve: idle, busy, beyond the horizon, a stale view, idle again
        reserve(first, 5, 10.0)
        reserve(second, 5, 10.0)  # its idle guess fails, the returned item says busy
        reserve(first, 200, 1.0)  # partial
        reserve(second, 3, 0.0)  # nothing fits
        clock.now += 0.25
        reserve(second, 2, 5.0)
        clock.now += 60
        reserve(first, 4, 1.0)  # its busy guess fails: idle again
        reserve(first, 0, 1.0)
        return seen

    on_moto, on_standin = on_both(scenario)

    # Then the grants are the same, slot for slot
    assert on_standin == on_moto
    assert [count for count, _, _ in on_moto] == [5, 5, 1, 0, 2, 4, 0]


def test_breakers_alike(on_both: Callable[[Scenario], tuple[Any, Any]]) -> None:
    # Given two instances' breakers on one clock
    policy = BreakerPolicy(failures_to_open=3, window_seconds=60, cooldown_seconds=30)

    def scenario(stack: LocalResources) -> list[Any]:
        clock = Clock()
        first, second = (Breakers(stack.table_name, ("ses", "smtp"), policy, clock) for _ in range(2))
        seen: list[Any] = []
        first.refresh()
        seen += [first.admits("ses"), first.seconds_until_probe()]
        # When failures open one, a cooldown passes, one instance probes and the probe succeeds
        seen += [first.record_failure("ses") for _ in range(3)]
        second.refresh()
        seen += [second.admits("ses"), second.phase("ses").value, second.seconds_until_probe()]
        clock.now += 61
        seen.append(second.record_failure("smtp"))  # a later window
        clock.now += 1
        first.refresh()
        second.refresh()
        seen += [first.admits("ses"), second.admits("ses"), second.phase("ses").value]
        seen += [second.record_success("ses"), first.record_success("ses")]
        second.refresh()
        seen += [second.phase("ses").value, second.admits("smtp")]
        return seen

    on_moto, on_standin = on_both(scenario)

    # Then every answer matches
    assert on_standin == on_moto
    assert on_moto[:5] == [True, None, False, False, True]
    assert on_moto[9:11] == [True, False]  # one probe among the instances
    assert on_moto[12:15] == [False, True, "closed"]


def test_suppression_reasons_alike(on_both: Callable[[Scenario], tuple[Any, Any]]) -> None:
    # Given some suppressed addresses
    def scenario(stack: LocalResources) -> list[Any]:
        suppressions = Suppressions(stack.table_name)
        seen: list[Any] = [
            suppressions.add("a@example.com", SuppressionReason.HARD_BOUNCE, "ses"),
            suppressions.add("b@example.com", SuppressionReason.COMPLAINT, "ses"),
            suppressions.add("a@example.com", SuppressionReason.COMPLAINT, "ses"),
        ]
        # When the worker reads the reasons of a batch's recipients (one twice)
        seen.append(suppressions.reasons(["a@example.com", "c@example.com", "b@example.com", "a@example.com"]))
        seen += [suppressions.remove("b@example.com"), suppressions.remove("b@example.com")]
        seen.append(suppressions.reasons(["a@example.com", "b@example.com"]))
        return seen

    on_moto, on_standin = on_both(scenario)

    # Then the same reasons
    assert on_standin == on_moto
    assert on_moto[3] == {"a@example.com": SuppressionReason.HARD_BOUNCE, "b@example.com": SuppressionReason.COMPLAINT}


def test_send_queue_enqueue_receive_delete_alike(on_both: Callable[[Scenario], tuple[Any, Any]]) -> None:
    # Given jobs enqueued now and later (a deferral's delay)
    def scenario(stack: LocalResources) -> list[Any]:
        sqs = client("sqs")
        queue = SendQueue(stack.queue_url, delay_seconds=0)

        def counters() -> dict[str, str]:
            found = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=list(QUEUE_COUNTERS))
            return dict(found["Attributes"])

        seen: list[Any] = [queue.enqueue([SendJob(f"s{i}", "b1") for i in range(12)])]
        seen.append(queue.enqueue([SendJob("late", "b1", prior_receives=2)], delay_seconds=60))
        seen.append(counters())
        # When three are received and at once visible again, then the poller receives everything, and
        # the messages are deleted in two batches
        peek = sqs.receive_message(
            QueueUrl=stack.queue_url, MaxNumberOfMessages=3, VisibilityTimeout=0, MessageSystemAttributeNames=["All"]
        )["Messages"]
        seen.append([m["Attributes"]["ApproximateReceiveCount"] for m in peek])
        received = receive(stack.queue_url, wait_seconds=0)
        seen.append(sorted((m["Body"], m["Attributes"]["ApproximateReceiveCount"]) for m in received))
        seen.append(all(m["MD5OfBody"] == hashlib.md5(m["Body"].encode()).hexdigest() for m in received))
        seen.append(counters())
        for part in (received[:10], received[10:]):
            reply = sqs.delete_message_batch(
                QueueUrl=stack.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(part)],
            )
            seen.append((len(reply.get("Successful", [])), reply.get("Failed", [])))
        seen.append(counters())
        seen.append(receive(stack.queue_url, wait_seconds=0))
        return seen

    on_moto, on_standin = on_both(scenario)

    # Then the same messages, counts and counters
    assert on_standin == on_moto
    assert on_moto[2] == dict(zip(QUEUE_COUNTERS, ("12", "0", "1"), strict=True))
    assert sorted(count for _, count in on_moto[4]) == ["1"] * 9 + ["2"] * 3
    assert on_moto[6] == dict(zip(QUEUE_COUNTERS, ("0", "12", "1"), strict=True))
    assert on_moto[7:9] == [(10, []), (2, [])]
    assert on_moto[9] == dict(zip(QUEUE_COUNTERS, ("0", "0", "1"), strict=True))


def test_validation_errors_alike(on_both: Callable[[Scenario], tuple[Any, Any]]) -> None:
    # Given requests DynamoDB refuses
    def scenario(stack: LocalResources) -> list[str]:
        ddb, key = client("dynamodb"), {"pk": {"S": "x"}}
        update = {"TableName": stack.table_name, "Key": key}
        return [
            # a reserved word used bare, a value given but unused, a value used but not given
            _error_code(
                lambda: ddb.update_item(
                    **update, UpdateExpression="SET status = :v", ExpressionAttributeValues={":v": {"S": "a"}}
                )
            ),
            _error_code(
                lambda: ddb.update_item(
                    **update,
                    UpdateExpression="SET a = :v",
                    ExpressionAttributeValues={":v": {"S": "a"}, ":w": {"S": "b"}},
                )
            ),
            _error_code(lambda: ddb.update_item(**update, UpdateExpression="SET a = :v")),
            _error_code(
                lambda: ddb.update_item(
                    **update, UpdateExpression="SET pk = :v", ExpressionAttributeValues={":v": {"S": "a"}}
                )
            ),
            _error_code(lambda: ddb.get_item(TableName=stack.table_name, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})),
        ]

    on_moto, on_standin = on_both(scenario)

    # Then both refuse them alike
    assert on_standin == on_moto == ["ValidationException"] * 5


def test_what_the_standin_does_not_support_fails_loudly(standin_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the stand-in, provisioned as the bench does
    control(standin_endpoint, RESET_PATH)
    monkeypatch.setenv("AWS_ENDPOINT_URL", standin_endpoint)
    reset_process_caches()
    stack = provision_standin("test")
    ddb = client("dynamodb")

    # When a request uses an expression function, a nested path or an operation it does not implement
    with pytest.raises(ClientError) as function:
        ddb.update_item(
            TableName=stack.table_name,
            Key={"pk": {"S": "x"}},
            UpdateExpression="SET a = :v",
            ConditionExpression="begins_with(a, :v)",
            ExpressionAttributeValues={":v": {"S": "a"}},
        )
    with pytest.raises(ClientError) as nested:
        ddb.get_item(TableName=stack.table_name, Key={"pk": {"S": "x"}}, ProjectionExpression="a.b")
    with pytest.raises(ClientError) as operation:
        ddb.query(
            TableName=stack.table_name, KeyConditionExpression="pk = :v", ExpressionAttributeValues={":v": {"S": "x"}}
        )
    reset_process_caches()

    # Then each is a 400 ValidationException that says the stand-in does not support it
    for refused in (function, nested, operation):
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert refused.value.response["Error"]["Message"].startswith("stand-in does not support")
