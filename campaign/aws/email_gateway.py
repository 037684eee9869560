"""Email delivery: SES (SESv2 SendEmail of the raw MIME bytes campaign/domain/message.py builds) or a
dry run, with SES errors sorted into retry or give up.

SES has no idempotency token, so the SES client makes exactly one attempt per call: a throttled call
comes back through SQS redelivery, and an ambiguous one (the reply timed out) is never repeated.
"""

from typing import Protocol

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from campaign.aws.clients import single_attempt_client
from campaign.domain.addresses import ascii_address
from campaign.domain.message import Letterhead

# Throttling: SES is healthy but we sent above the account's rate (which the fleet's pace should
# prevent). Not accepted, so safe to try again later or through another provider.
THROTTLING_ERROR_CODES = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
# Throttling and capacity errors: the message was not accepted, so trying again later is safe.
TRANSIENT_ERROR_CODES = THROTTLING_ERROR_CODES | frozenset(
    {
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServiceError",
    }
)
_THROTTLE_TEXT = "maximum sending rate exceeded"


class TransientSendError(Exception):
    """Not sent; safe to retry later, or through another provider."""


class ThrottledError(TransientSendError):
    """Not sent because we sent too fast: the provider is healthy, so its circuit breaker does not count it."""


class PermanentSendError(Exception):
    """Not sent, and retrying the same message will not change that."""


class UnknownOutcomeError(Exception):
    """SES may or may not have accepted the message; retrying could send it twice."""


class EmailSender(Protocol):
    def send(self, *, send_id: str, batch_id: str, to: str, subject: str, body: str) -> str | None:
        """Deliver one send's message; returns the provider's message id, if it has one."""
        ...


class DryRunSender:
    """Records SENT without building or sending anything: a safe way to rehearse a campaign."""

    def send(self, *, send_id: str, batch_id: str, to: str, subject: str, body: str) -> str | None:
        del send_id, batch_id, to, subject, body
        return None


def classify_client_error(exc: ClientError) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    text = f"{code}: {error.get('Message', '')}"
    if code in THROTTLING_ERROR_CODES or _THROTTLE_TEXT in text.lower():
        return ThrottledError(text)
    if code in TRANSIENT_ERROR_CODES or status >= 500:
        return TransientSendError(text)
    return PermanentSendError(text)


# The message tags every send carries: SES copies them into its delivery events.
SEND_ID_TAG = "sendId"
BATCH_ID_TAG = "batchId"


class SesSender:
    def __init__(self, letterhead: Letterhead, configuration_set: str | None) -> None:
        self._letterhead = letterhead
        self._configuration_set = configuration_set
        self._ses = single_attempt_client("sesv2")

    def send(self, *, send_id: str, batch_id: str, to: str, subject: str, body: str) -> str | None:
        raw = self._letterhead.message_bytes(send_id=send_id, batch_id=batch_id, to=to, subject=subject, content=body)
        request: dict[str, object] = {
            "FromEmailAddress": self._letterhead.composition.sender,
            "Destination": {"ToAddresses": [ascii_address(to)]},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": [{"Name": SEND_ID_TAG, "Value": send_id}, {"Name": BATCH_ID_TAG, "Value": batch_id}],
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        try:
            response = self._ses.send_email(**request)
        except ClientError as exc:
            raise classify_client_error(exc) from exc
        except (ConnectTimeoutError, EndpointConnectionError) as exc:
            raise TransientSendError(f"SES unreachable: {exc}") from exc
        except (ReadTimeoutError, ConnectionClosedError) as exc:
            raise UnknownOutcomeError(f"SES did not answer: {exc}") from exc
        return str(response["MessageId"])
