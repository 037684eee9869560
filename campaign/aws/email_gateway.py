"""Email delivery: SES (SESv2 SendEmail) or a dry run, with SES errors sorted into retry or give up.

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

# Throttling and capacity errors: the message was not accepted, so trying again later is safe.
TRANSIENT_ERROR_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "LimitExceededException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "InternalFailure",
        "InternalServiceError",
    }
)
_THROTTLE_TEXT = "maximum sending rate exceeded"


class TransientSendError(Exception):
    """Not sent; safe to retry later."""


class PermanentSendError(Exception):
    """Not sent, and retrying the same message will not change that."""


class UnknownOutcomeError(Exception):
    """SES may or may not have accepted the message; retrying could send it twice."""


class EmailSender(Protocol):
    def send(self, *, to: str, subject: str, body: str) -> str | None:
        """Deliver one message; returns the provider's message id, if it has one."""
        ...


class DryRunSender:
    """Records SENT without calling SES: the default locally, and a safe way to rehearse a campaign."""

    def send(self, *, to: str, subject: str, body: str) -> str | None:
        del to, subject, body
        return None


def classify_client_error(exc: ClientError) -> Exception:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    text = f"{code}: {error.get('Message', '')}"
    if code in TRANSIENT_ERROR_CODES or status >= 500 or _THROTTLE_TEXT in text.lower():
        return TransientSendError(text)
    return PermanentSendError(text)


class SesSender:
    def __init__(self, sender_address: str, configuration_set: str | None) -> None:
        self._from = sender_address
        self._configuration_set = configuration_set
        self._ses = single_attempt_client("sesv2")

    def send(self, *, to: str, subject: str, body: str) -> str | None:
        request: dict[str, object] = {
            "FromEmailAddress": self._from,
            "Destination": {"ToAddresses": [to]},
            "Content": {
                "Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": body, "Charset": "UTF-8"}},
                }
            },
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
