"""botocore event hooks around the real (moto-backed) clients: record calls, inject AWS faults."""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from campaign.aws.clients import client, single_attempt_client


@dataclass
class CallLog:
    """Every AWS operation made through our cached clients, with its parameters and parsed reply."""

    calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)

    def count(self, operation: str | None = None) -> int:
        return sum(1 for op, _, _ in self.calls if operation is None or op == operation)

    def by_operation(self) -> Counter[str]:
        return Counter(op for op, _, _ in self.calls)

    def of(self, operation: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        return [(params, reply) for op, params, reply in self.calls if op == operation]


def _clients(services: tuple[str, ...]) -> list[Any]:
    return [client(s) for s in services] + [single_attempt_client(s) for s in services if s == "sesv2"]


@contextmanager
def recording(*services: str) -> Iterator[CallLog]:
    log = CallLog()

    def before_call(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["recorded_params"] = params

    def after_call(model: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        log.calls.append((model.name, context.get("recorded_params", {}), parsed))

    targets = _clients(services or ("dynamodb", "sqs", "sesv2"))
    for target in targets:
        target.meta.events.register_first("before-parameter-build.*.*", before_call)
        target.meta.events.register("after-call.*.*", after_call)
    try:
        yield log
    finally:
        for target in targets:
            target.meta.events.unregister("before-parameter-build.*.*", before_call)
            target.meta.events.unregister("after-call.*.*", after_call)


def client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}, "op"
    )


Fault: TypeAlias = dict[str, Any] | ClientError | Exception | Callable[[dict[str, Any]], Any] | None


@contextmanager
def faults(
    service: str, operation: str, script: list[Fault], *, single_attempt: bool = False
) -> Iterator[list[dict[str, Any]]]:
    """Answer the next calls of `operation` from `script` instead of AWS: a dict is returned as the
    parsed reply, an exception is raised, a callable gets the params and may return a reply, None
    passes the call through. After the script, calls pass through. Yields the params seen."""
    target = single_attempt_client(service) if single_attempt else client(service)
    seen: list[dict[str, Any]] = []
    remaining = list(script)

    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["fault_params"] = params

    def before_call(context: dict[str, Any], **_: Any) -> Any:
        params = context["fault_params"]
        seen.append(params)
        if not remaining:
            return None
        step = remaining.pop(0)
        if callable(step) and not isinstance(step, Exception):
            step = step(params)
        if step is None:
            return None
        if isinstance(step, Exception):
            raise step
        return AWSResponse("https://fault.invalid", 200, {}, None), step

    service_id = target.meta.service_model.service_id.hyphenize()
    build_event = f"before-parameter-build.{service_id}.{operation}"
    call_event = f"before-call.{service_id}.{operation}"
    target.meta.events.register(build_event, keep_params)
    target.meta.events.register_first(call_event, before_call)
    try:
        yield seen
    finally:
        target.meta.events.unregister(build_event, keep_params)
        target.meta.events.unregister(call_event, before_call)
