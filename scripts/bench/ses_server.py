"""A simulated SES (SESv2's REST JSON) for the pace benchmark: slow, and throttling above its rate.

Run as its own process (`python -m scripts.bench.ses_server --port N`); boto3 clients reach it
through the service-specific endpoint variable AWS_ENDPOINT_URL_SESV2, while DynamoDB and SQS stay
on the emulator (AWS_ENDPOINT_URL). Requests are signed by botocore and the signature is ignored.

* `POST /v2/email/outbound-emails` (SendEmail): the request is admitted or throttled when it arrives,
  answered after the simulated latency (60 ms unless told otherwise): accepted, 200
  `{"MessageId": ...}`; throttled, 429 `{"__type": "TooManyRequestsException", "message": "Maximum
  sending rate exceeded."}`, which botocore raises as a ClientError with that code.
* `GET /v2/email/account` (GetAccount): `SendQuota.MaxSendRate` is the simulator's rate.
* `POST /v2/email/identities` (CreateEmailIdentity): verified at once (local provisioning).

Throttling is a token bucket, as SES allows short bursts but not a sustained excess: it holds one
second of `rate` (BURST_SECONDS), is refilled continuously at `rate` per second and is full at every
reset; each SendEmail takes a token when it arrives, or is throttled.

The bench's control endpoints (not SES's): `POST /sim/reset` with `{"rate": r, "latency_ms": m}`
clears the counts and refills the bucket at the new rate; `GET /sim/stats` returns the accepted sends'
arrival times (time.monotonic(), the same clock in every process on Linux), the throttled count, and
the sends per `sendId` message tag (the tag the project's SesSender sets), so a double send shows.
"""

import argparse
import json
import threading
import time
import uuid
from collections import Counter
from typing import Any

from scripts.loopback import AwsLikeHandler, AwsLikeServer

SEND_PATH = "/v2/email/outbound-emails"
ACCOUNT_PATH = "/v2/email/account"
IDENTITIES_PATH = "/v2/email/identities"
RESET_PATH = "/sim/reset"
STATS_PATH = "/sim/stats"
SEND_ID_TAG = "sendId"
DEFAULT_RATE = 14.0
DEFAULT_LATENCY_MS = 60.0
BURST_SECONDS = 1.0


class TokenBucket:
    """Capacity rate * BURST_SECONDS, refilled at `rate` per second."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.capacity = rate * BURST_SECONDS
        self._tokens = self.capacity
        self._at = time.monotonic()

    def take(self, now: float) -> bool:
        self._tokens = min(self.capacity, self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class Simulator:
    def __init__(self, rate: float, latency_ms: float) -> None:
        self._lock = threading.Lock()
        self.reset(rate, latency_ms)

    def reset(self, rate: float, latency_ms: float) -> None:
        with self._lock:
            self.rate = rate
            self.latency = latency_ms / 1000
            self._bucket = TokenBucket(rate)
            self._accepted: list[float] = []
            self._throttled = 0
            self._per_send_id: Counter[str] = Counter()
            self._untagged = 0
            self._account_reads = 0

    def send(self, request: dict[str, Any]) -> bool:
        """Admit or throttle one SendEmail (counted); the caller then waits the latency."""
        now = time.monotonic()
        tags = {tag.get("Name"): tag.get("Value") for tag in request.get("EmailTags") or []}
        with self._lock:
            if not self._bucket.take(now):
                self._throttled += 1
                return False
            self._accepted.append(now)
            send_id = tags.get(SEND_ID_TAG)
            if send_id is None:
                self._untagged += 1
            else:
                self._per_send_id[send_id] += 1
            return True

    def account(self) -> dict[str, Any]:
        with self._lock:
            self._account_reads += 1
            sent = len(self._accepted)
            rate = self.rate
        return {
            "SendQuota": {"Max24HourSend": 10_000_000.0, "MaxSendRate": rate, "SentLast24Hours": float(sent)},
            "SendingEnabled": True,
            "ProductionAccessEnabled": True,
            "EnforcementStatus": "HEALTHY",
            "DedicatedIpAutoWarmupEnabled": False,
        }

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "rate": self.rate,
                "latency_ms": self.latency * 1000,
                "burst_seconds": BURST_SECONDS,
                "accepted_at": list(self._accepted),
                "throttled": self._throttled,
                "untagged": self._untagged,
                "distinct_send_ids": len(self._per_send_id),
                "double_sends": {k: n for k, n in self._per_send_id.items() if n > 1},
                "account_reads": self._account_reads,
            }


class _Handler(AwsLikeHandler):
    server: "_Server"

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parsed = json.loads(raw) if raw.strip() else {}
        return parsed if isinstance(parsed, dict) else {}

    def _answer(self, status: int, payload: dict[str, Any], error_type: str | None = None) -> None:
        self.answer(status, payload, error_type=error_type)

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._body()
        simulator = self.server.simulator
        if path == SEND_PATH:
            accepted = simulator.send(body)
            time.sleep(simulator.latency)
            if accepted:
                self._answer(200, {"MessageId": f"sim-{uuid.uuid4()}"})
            else:
                error = "TooManyRequestsException"
                self._answer(429, {"__type": error, "message": "Maximum sending rate exceeded."}, error)
        elif path == IDENTITIES_PATH:
            self._answer(200, {"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": True})
        elif path == RESET_PATH:
            simulator.reset(float(body.get("rate", DEFAULT_RATE)), float(body.get("latency_ms", DEFAULT_LATENCY_MS)))
            self._answer(200, {"rate": simulator.rate})
        else:
            self._answer(404, {"__type": "NotFoundException", "message": f"no route for POST {path}"})

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == ACCOUNT_PATH:
            self._answer(200, self.server.simulator.account())
        elif path == STATS_PATH:
            self._answer(200, self.server.simulator.stats())
        else:
            self._answer(404, {"__type": "NotFoundException", "message": f"no route for GET {path}"})


class _Server(AwsLikeServer):
    def __init__(self, address: tuple[str, int], simulator: Simulator) -> None:
        super().__init__(address, _Handler)
        self.simulator = simulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=DEFAULT_RATE, help="MaxSendRate and the throttling rate")
    parser.add_argument("--latency-ms", type=float, default=DEFAULT_LATENCY_MS)
    args = parser.parse_args()
    server = _Server(("127.0.0.1", args.port), Simulator(args.rate, args.latency_ms))
    server.serve_until_interrupted()


if __name__ == "__main__":
    main()
