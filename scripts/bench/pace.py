"""Send rate against a simulated SES: one worker instance, and a fleet held to SES's rate.

Run by scripts/bench/__main__.py in a process of its own (`python -m scripts.bench.pace`, environment set by
the caller, or defaults when run alone); prints one JSON object. Three kinds of process:

* the AWS stand-in (scripts/bench/aws_standin.py): an in-memory DynamoDB and SQS in a process of its
  own, reset for every case and provisioned with the bench's table (keyed by `pk`) and queues. Not
  moto's server (scripts/local/emulator.py), because moto spends about 7 ms of CPU per request in
  one process: 17-21 ms of its CPU per send, so it alone caps the whole system at 50-60 sends a
  second on this machine (the last run on it: 41/s for one instance, 20% of 200/s; 200/s would need
  ~2.8 cores of moto), and the targets would measure moto, not the worker. The stand-in answers in
  well under a millisecond of CPU; tests/unit/test_bench_standin.py runs the same gateway calls
  (claims, results, the pace bucket, breakers, suppressions, the queue) on moto and on the stand-in
  and requires equal outcomes. `--aws emulator` runs the phase on moto's server instead, to
  reproduce the emulator-bound figures (the instances then take turns to delete, see
  scripts/bench/pace_worker.py);
* the simulated SES (scripts/bench/ses_server.py): SendEmail answers after 60 ms, and is throttled
  (429 TooManyRequestsException) by a token bucket holding one second of `rate`, refilled at `rate`
  per second;
  GetAccount reports `rate` as MaxSendRate. The workers reach it through AWS_ENDPOINT_URL_SESV2;
* worker instances (scripts/bench/pace_worker.py), each a process polling the send queue as the event
  source mapping does and invoking the handler with a context that counts down from 30 s. Every
  DynamoDB and SQS request of theirs waits 10 ms first (CallMeter); SES has its own 60 ms.

A case: reset and provision the stack, preload a generated file's rows and messages (the project's
SendRows.create and SendQueue.enqueue, delay 0; for the naive design its rows and the message bodies
its worker reads, as NaiveIngest queues them; the ingest is not what is measured, not timed), reset
the simulator at the case's rate, start the instances
and wait until each has built its clients, then say go to all at once. The bench watches the send
queue and says stop once it is empty (nothing visible, in flight or delayed) on two reads in a row,
or at the case's deadline. Then it reads the simulator's counts and the case's rows (by key).

Cases and what is measured:

* `one_ours`, `one_naive`: one instance, simulator at 1,000/s (so SES never limits). The rate is
  rows SENT / the instance's wall time from go to the end of its last batch (deletes included): the
  instance's own throughput, its per-batch steps included, not just the span between two SES calls.
  The mapping's receives and deletes run beside the handler, as Lambda's pollers do
  (scripts/bench/pace_worker.py). The simulator's span rate is kept in the raw results too.
* `fleet_50`, `fleet_200`: four instances, SEND_RATE_PER_SECOND unset, so the workers pace to
  GetAccount's MaxSendRate. The achieved rate is measured at the simulator over the steady span,
  the run without its first and last second (start-up and drain, STEADY_TRIM_SECONDS): of the
  arrivals from t_first + 1 s to t_last - 1 s, (N - 1) / (t_last' - t_first'), N - 1 because N
  arrivals bound N - 1 intervals. Reported as a percentage of the limit, to 0.1% (target 90-100%).
  Why trimmed: a fleet that holds the rate exactly measures 100% plus the lateness of its very first
  send (a new connection, a thread starting: 20 ms over a 12 s run is +0.2%); inside the run an
  arrival is a few ms off its slot, well under 0.1%. The untrimmed (N - 1) / (t_last - t_first), a
  least-squares rate over every arrival and the most arrivals in any one second are kept too.

For every case: throttled requests (the simulator's 429s; not a failure by themselves), throttles
surfaced as failures (rows ending ERROR as retries exhausted, or with a throttling error), double
sends (a sendId the simulator accepted more than once), rows not final (neither SENT nor ERROR).
The AWS process's cost is reported beside them: the instances' mean time per DynamoDB/SQS request
past the simulated 10 ms (from send to reply, as the instances' clients see it), the CPU seconds of
each process kind over the run (two cores are shared by all), and the stand-in's CPU per request it
answered.
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import worker.handler
from campaign.aws.bulk import get_all
from campaign.aws.clients import clear_client_cache, client
from campaign.aws.send_queue import SendJob, SendQueue
from campaign.aws.send_rows import SendRows
from campaign.aws.table_schema import PARTITION_KEY, send_pk
from campaign.config import clear_settings_cache
from campaign.domain.clock import now_iso
from campaign.domain.csv_rules import parse_campaign_csv
from campaign.domain.ids import batch_id_for
from campaign.domain.models import BatchRecord, BatchState
from campaign.domain.retention import Retention
from campaign.limits import SQS_SEND_BATCH_MAX
from campaign.observability import logger
from campaign.services.ingest import candidate_for
from scripts.bench.aws_standin import RESET_PATH, STATS_PATH, control, provision_standin, standin_process
from scripts.bench.data import campaign_csv
from scripts.bench.pipeline import emulator, fresh_stack
from scripts.bench.report import PHASE_ENV
from scripts.local.provision import LocalResources, environment_of
from scripts.loopback import PROJECT_ROOT, serving

ENV_SES_ENDPOINT = "AWS_ENDPOINT_URL_SESV2"
ENV_SEND_RATE = "SEND_RATE_PER_SECOND"
QUEUE_COUNTERS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)
WATCH_SECONDS = 0.25
# The steady span leaves out this much of the run at each end (start-up and drain).
STEADY_TRIM_SECONDS = 1.0
THROTTLE_WORDS = ("throttl", "toomanyrequests", "maximum sending rate")
RETENTION = Retention(30, 90)
# The two AWS the targets can run against: the stand-in (the default: what `make bench` runs) and
# moto's server (emulator-bound figures, kept for comparison).
STANDIN, EMULATOR = "standin", "emulator"
AWS_MODULES = {STANDIN: "scripts.bench.aws_standin", EMULATOR: "scripts.local.emulator"}


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    design: str  # "ours" or "naive"
    instances: int
    rate: float  # the simulator's MaxSendRate and throttling rate
    rows: int  # data rows in the file (1 in 50 is refused by the CSV rules)


def cases(quick: bool) -> list[Case]:
    if quick:
        return [
            Case("one_ours", "ours", 1, 1000, 306),
            Case("one_naive", "naive", 1, 1000, 102),
            Case("fleet_50", "ours", 4, 50, 204),
            Case("fleet_200", "ours", 4, 200, 510),
        ]
    return [
        Case("one_ours", "ours", 1, 1000, 1_020),
        Case("one_naive", "naive", 1, 1000, 204),
        Case("fleet_50", "ours", 4, 50, 612),
        Case("fleet_200", "ours", 4, 200, 2_040),
    ]


@contextlib.contextmanager
def ses_simulator() -> Iterator[str]:
    with serving("scripts.bench.ses_server") as (endpoint, _pid):
        yield endpoint


@contextlib.contextmanager
def _aws(kind: str) -> Iterator[str]:
    """DynamoDB and SQS for the run, in a process of their own; AWS_ENDPOINT_URL points at them (the
    instances inherit it)."""
    if kind == EMULATOR:
        with emulator() as endpoint:
            yield endpoint
        return
    with standin_process() as (endpoint, _pid):
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        yield endpoint


def _call(url: str, payload: dict[str, Any] | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.load(reply)


def _preload(case: Case, stack: LocalResources) -> tuple[list[str], str]:
    """Write the case's rows and queue its messages directly, as the ingest leaves them (the ingest is
    not what is measured): our rows with SendRows.create and our messages with SendQueue.enqueue
    (delay 0); for the naive design, its rows and the message bodies its worker reads (NaiveIngest's
    shape) with SendMessageBatch. Not timed, no added latency. Returns (send ids, batch id)."""
    content = campaign_csv(case.rows, case.name)
    batch_id, now = batch_id_for(content), now_iso()
    parsed = parse_campaign_csv(content)
    batch = BatchRecord(batch_id, now, BatchState.DONE, parsed.total, len(parsed.skipped))
    rows = []
    for accepted in parsed.rows:
        candidate = candidate_for(batch, accepted)
        if candidate.body is not None:
            raise RuntimeError("the pace bench's bodies sit in their rows")
        rows.append(candidate.row)
    expires_at = RETENTION.expiry_of(now)
    SendRows(stack.table_name).create(rows, expires_at)
    if case.design == "ours":
        refused = SendQueue(stack.queue_url, delay_seconds=0).enqueue([SendJob(r.send_id, r.batch_id) for r in rows])
        if refused:
            raise RuntimeError(f"messages not queued: {refused}")
    else:
        bodies = [
            json.dumps(
                {
                    "sendId": r.send_id,
                    "batchId": r.batch_id,
                    "email": r.email,
                    "subject": r.subject,
                    "content": r.content,
                    "createdAt": r.created_at,
                    "seq": r.seq,
                }
            )
            for r in rows
        ]
        for start in range(0, len(bodies), SQS_SEND_BATCH_MAX):
            entries = [
                {"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + SQS_SEND_BATCH_MAX])
            ]
            if client("sqs").send_message_batch(QueueUrl=stack.queue_url, Entries=entries).get("Failed"):
                raise RuntimeError("naive messages not queued")
    return [r.send_id for r in rows], batch_id


def _fresh_standin(endpoint: str) -> LocalResources:
    """An empty stand-in with the bench's resources, and no process cache pointing at old ones."""
    control(endpoint, RESET_PATH)
    clear_client_cache()
    resources = provision_standin("bench")
    os.environ |= environment_of(resources)
    clear_settings_cache()
    worker.handler.clear_caches()
    return resources


def _queue_counters(queue_url: str) -> dict[str, int]:
    attributes = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(QUEUE_COUNTERS))
    return {name: int(attributes["Attributes"].get(name, 0)) for name in QUEUE_COUNTERS}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(module: str) -> list[int]:
    """Our child processes running `python -m <module>`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if ppid == os.getpid() and module.encode() in command:
            found.append(int(entry.name))
    return found


def _cpu_of(module: str) -> float:
    return sum(_cpu_seconds(pid) for pid in _children(module))


def _worker_env(ses_endpoint: str) -> dict[str, str]:
    env = dict(os.environ)
    env[ENV_SES_ENDPOINT] = ses_endpoint
    env.pop(ENV_SEND_RATE, None)  # the fleet's rate comes from GetAccount
    return env


def _start_instances(
    case: Case, out: Path, env: dict[str, str], latency_ms: float, deadline: float, *, delete_lock: bool
) -> list[Any]:
    log = open(os.environ.get("BENCH_PACE_LOG", os.devnull), "a")  # noqa: SIM115 (closed by the caller)
    instances = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "scripts.bench.pace_worker",
                "--index",
                str(i),
                "--design",
                case.design,
                "--out",
                str(out),
                "--latency-ms",
                str(latency_ms),
                "--deadline-seconds",
                str(deadline),
                *(["--delete-lock"] if delete_lock else []),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,  # the Lambda's logs and metrics
            stderr=log,
            text=True,
        )
        for i in range(case.instances)
    ]
    started = time.monotonic()
    while not all((out / f"ready-{i}").exists() for i in range(case.instances)):
        if time.monotonic() - started > 120 or any(p.poll() is not None for p in instances):
            raise RuntimeError(f"{case.name}: a worker instance did not start (BENCH_PACE_LOG=file shows why)")
        time.sleep(0.05)
    log.close()
    return instances


def _tell(instances: list[Any], word: str) -> None:
    for process in instances:
        with contextlib.suppress(BrokenPipeError, OSError):
            process.stdin.write(word + "\n")
            process.stdin.flush()


def _watch(queue_url: str, deadline: float) -> tuple[bool, float, dict[str, int]]:
    """Until the queue is empty on two reads in a row (True) or the deadline passes (False); with the
    time and the queue's counters at the last read."""
    empty_reads = 0
    counters: dict[str, int] = {}
    while time.monotonic() < deadline:
        time.sleep(WATCH_SECONDS)
        counters = _queue_counters(queue_url)
        empty_reads = empty_reads + 1 if not any(counters.values()) else 0
        if empty_reads >= 2:
            return True, time.monotonic(), counters
    return False, time.monotonic(), counters


def _rows(table: str, send_ids: list[str]) -> dict[str, Any]:
    """The case's send rows by status, and the ERROR rows that a throttle ended (read by key,
    BatchGetItem; a row missing counts as not final)."""
    statuses: Counter[str] = Counter()
    error_kinds: Counter[str] = Counter()
    throttle_failures = 0
    keys = [{PARTITION_KEY: {"S": send_pk(send_id)}} for send_id in send_ids]
    found = get_all(client("dynamodb"), table, keys, consistent=True)
    statuses["missing"] = len(send_ids) - len(found)
    for item in found:
        status = item.get("status", {}).get("S", "?")
        statuses[status] += 1
        if status != "ERROR":
            continue
        kind = item.get("errorKind", {}).get("S", "")
        error_kinds[kind] += 1
        text = item.get("error", {}).get("S", "").lower()
        if kind == "retries_exhausted" or any(word in text for word in THROTTLE_WORDS):
            throttle_failures += 1
    not_final = sum(n for status, n in statuses.items() if status not in ("SENT", "ERROR"))
    return {
        "statuses": {status: n for status, n in statuses.items() if n},
        "error_kinds": dict(error_kinds),
        "throttle_failures": throttle_failures,
        "not_final": not_final,
    }


def span_rate(times: list[float]) -> float | None:
    """(N - 1) / (t_last - t_first): the rate over the span the N arrivals bound."""
    if len(times) < 2 or times[-1] <= times[0]:
        return None
    return (len(times) - 1) / (times[-1] - times[0])


def steady_rate(times: list[float], trim: float = STEADY_TRIM_SECONDS) -> float | None:
    """span_rate over the arrivals at least `trim` seconds from both ends (all of them in a run too short)."""
    if not times:
        return None
    inside = [at for at in times if times[0] + trim <= at <= times[-1] - trim]
    return span_rate(inside) if len(inside) >= 2 else span_rate(times)


def least_squares_rate(times: list[float]) -> float | None:
    """1 / the slope of arrival time against arrival rank, fitted over every arrival."""
    n = len(times)
    if n < 2:
        return None
    mean_rank, mean_time = (n - 1) / 2, sum(times) / n
    spread = sum((i - mean_rank) ** 2 for i in range(n))
    slope = sum((i - mean_rank) * (at - mean_time) for i, at in enumerate(times)) / spread
    return 1 / slope if slope > 0 else None


def peak_rate(times: list[float], window: float = 1.0) -> int:
    """The most arrivals in any `window` seconds (SES's burst allowance is `rate` in one second)."""
    most, first = 0, 0
    for last, at in enumerate(times):
        while at - times[first] > window:
            first += 1
        most = max(most, last - first + 1)
    return most


def _summarise_instances(results: list[dict[str, Any]]) -> dict[str, Any]:
    requests: Counter[str] = Counter()
    poll: Counter[str] = Counter()
    emulator = 0.0
    for r in results:
        requests.update(r["requests"].get("worker", {}))
        poll.update(r["requests"].get("poll", {}))
        emulator += sum(r["emulator_seconds"].values())
    aws_requests = sum(n for op, n in requests.items() if not op.startswith("sesv2")) + sum(poll.values())
    return {
        "worker_requests": dict(requests),
        "poll_requests": dict(poll),
        "emulator_ms_per_request": 1000 * emulator / aws_requests if aws_requests else 0.0,
        "ses_requests": sum(r["ses_requests"] for r in results),
        "ses_ms_per_request": (
            1000 * sum(r["ses_seconds"] for r in results) / max(1, sum(r["ses_requests"] for r in results))
        ),
        "batches": sum(r["batches"] for r in results),
        "received": sum(r["received"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "delete_refused": sum(r["delete_refused"] for r in results),
        "handler_raised": sum(r["handler_raised"] for r in results),
        "cpu_seconds": sum(r.get("cpu_seconds", 0.0) for r in results),
        # Wall seconds, summed over the instances: in the handler, in the receives and the deletes.
        "handler_seconds": sum(r["handler_seconds"] for r in results),
        "receive_seconds": sum(r["receive_seconds"] for r in results),
        "delete_seconds": sum(r["delete_seconds"] for r in results),
    }


def _aws_requests(aws: str, endpoint: str) -> tuple[int, float]:
    """Requests the stand-in answered so far, and the seconds they spent in it (0 for the emulator,
    which does not count them)."""
    if aws != STANDIN:
        return 0, 0.0
    stats = control(endpoint, STATS_PATH)
    return sum(stats["requests"].values()), float(stats["residence_seconds"])


def run_case(
    case: Case, aws: str, endpoint: str, ses_endpoint: str, latency_ms: float, arrivals: Path | None = None
) -> dict[str, Any]:
    stack = _fresh_standin(endpoint) if aws == STANDIN else fresh_stack(endpoint)
    started = time.perf_counter()
    send_ids, batch_id = _preload(case, stack)
    accepted = len(send_ids)
    ingest_seconds = time.perf_counter() - started
    _call(f"{ses_endpoint}/sim/reset", {"rate": case.rate, "latency_ms": 60})
    expected = accepted / min(case.rate, 100.0 if case.design == "ours" else 10.0)
    deadline_seconds = max(60.0, 4 * expected)
    with tempfile.TemporaryDirectory(prefix=f"bench-pace-{case.name}-") as tmp:
        out = Path(tmp)
        instances = _start_instances(
            case, out, _worker_env(ses_endpoint), latency_ms, deadline_seconds + 30, delete_lock=aws == EMULATOR
        )
        modules = (AWS_MODULES[aws], "scripts.bench.ses_server")
        cpu_before = {module: _cpu_of(module) for module in modules}
        requests_before, residence_before = _aws_requests(aws, endpoint)
        go_at = time.monotonic()
        _tell(instances, "go")
        drained, stopped_at, counters = _watch(stack.queue_url, go_at + deadline_seconds)
        cpu = {module: _cpu_of(module) - before for module, before in cpu_before.items()}
        requests_after, residence_after = _aws_requests(aws, endpoint)
        aws_requests, residence = requests_after - requests_before, residence_after - residence_before
        _tell(instances, "stop")
        for process in instances:
            process.stdin.close()
            process.wait(timeout=90)
        results = [json.loads((out / f"result-{i}.json").read_text()) for i in range(case.instances)]
    stats = _call(f"{ses_endpoint}/sim/stats")
    times = sorted(stats["accepted_at"])
    if arrivals is not None:
        arrivals.mkdir(parents=True, exist_ok=True)
        (arrivals / f"{case.name}.json").write_text(json.dumps(times))
    rows = _rows(stack.table_name, send_ids)
    instance_span = max(r["last_done_at"] or r["go_at"] for r in results) - min(r["go_at"] for r in results)
    sent = rows["statuses"].get("SENT", 0)
    return {
        "case": asdict(case),
        "aws": aws,
        "batch_id": batch_id,
        "accepted_rows": accepted,
        "ingest_seconds": ingest_seconds,
        "drained": drained,
        "queue_at_stop": counters,
        "run_seconds": stopped_at - go_at,
        "deadline_seconds": deadline_seconds,
        "sim": {
            "accepted": len(times),
            "throttled": stats["throttled"],
            "double_sends": sum(n - 1 for n in stats["double_sends"].values()),
            "double_send_ids": len(stats["double_sends"]),
            "distinct_send_ids": stats["distinct_send_ids"],
            "untagged": stats["untagged"],
            "account_reads": stats["account_reads"],
            "span_seconds": times[-1] - times[0] if len(times) > 1 else 0.0,
            "span_rate": span_rate(times),
            "steady_rate": steady_rate(times),
            "least_squares_rate": least_squares_rate(times),
            "peak_per_second": peak_rate(times),
        },
        "rows": rows,
        "instance_span_seconds": instance_span,
        "instance_rate": sent / instance_span if instance_span > 0 else None,
        "instances": _summarise_instances(results),
        "cpu_seconds": {
            # the AWS behind the run (the stand-in or the emulator), under the emulator's old name
            "emulator": cpu[AWS_MODULES[aws]],
            "ses_simulator": cpu["scripts.bench.ses_server"],
        },
        # The AWS process serves requests on one core (one process, one interpreter lock): at this
        # much of its CPU per accepted send, it cannot answer for more than 1 / that sends a second.
        "emulator_cpu_ms_per_send": 1000 * cpu[AWS_MODULES[aws]] / max(1, len(times)),
        # Its CPU per request it answered (the stand-in counts them; the emulator does not: None).
        "aws_requests": aws_requests if aws == STANDIN else None,
        "aws_cpu_ms_per_request": 1000 * cpu[AWS_MODULES[aws]] / aws_requests if aws_requests else None,
        # Its mean wall time per request, from arrival to reply (its lock and interpreter waits included:
        # requests that arrive together are answered one after another).
        "aws_ms_per_request_inside": 1000 * residence / aws_requests if aws_requests else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small files: a smoke run, not a measurement")
    parser.add_argument("--latency-ms", type=float, default=10.0, help="added to each DynamoDB and SQS request")
    parser.add_argument("--only", nargs="*", help="run only these cases (one_ours one_naive fleet_50 fleet_200)")
    parser.add_argument("--arrivals", type=Path, help="also write each case's SES arrival times to DIR/<case>.json")
    parser.add_argument(
        "--aws",
        choices=(STANDIN, EMULATOR),
        default=STANDIN,
        help="DynamoDB and SQS: the in-memory stand-in (default) or moto's server (its CPU bounds the rate)",
    )
    args = parser.parse_args()
    for name, value in PHASE_ENV.items():  # run alone, the phase gets the settings bench.py gives it
        os.environ.setdefault(name, value)
    logger.setLevel(os.environ["POWERTOOLS_LOG_LEVEL"])  # built at import, before the defaults above
    out: dict[str, Any] = {"latency_ms": args.latency_ms, "ses_latency_ms": 60, "quick": args.quick, "aws": args.aws}
    chosen = [case for case in cases(args.quick) if not args.only or case.name in args.only]
    # The ingest's logs and metrics go to stdout, as in Lambda; this process's stdout carries the JSON only.
    with _aws(args.aws) as endpoint, ses_simulator() as ses_endpoint, open(os.devnull, "w") as sink:
        out["cpus"] = os.cpu_count()
        for case in chosen:
            with contextlib.redirect_stdout(sink):
                out[case.name] = run_case(case, args.aws, endpoint, ses_endpoint, args.latency_ms, args.arrivals)
            print(f"{case.name} done", file=sys.stderr, flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
