"""The SES account's send rate (campaign/aws/send_quota.py): read once per container, and a failure
to read it never stops the worker (the configured rate applies)."""

import io

import pytest
from botocore.exceptions import EndpointConnectionError

from campaign.aws.send_quota import account_max_send_rate
from tests.support.aws_calls import client_error, faults, recording
from tests.support.log_lines import json_lines


def test_the_account_rate_is_ses_max_send_rate(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an SES account allowed 14 emails a second
    monkeypatch.setenv("LOCAL_SES_MAX_SEND_RATE", "14")

    # When the worker asks for the account's rate
    rate = account_max_send_rate()

    # Then it is SES's MaxSendRate
    assert rate == 14.0


def test_the_account_rate_is_read_once_per_container(aws: None) -> None:
    # When the rate is asked for twice
    with recording("sesv2") as log:
        first, second = account_max_send_rate(), account_max_send_rate()

    # Then SES was asked once
    assert first == second
    assert log.by_operation() == {"GetAccount": 1}


@pytest.mark.parametrize(
    "failure",
    [client_error("AccessDeniedException", "not allowed"), EndpointConnectionError(endpoint_url="https://ses")],
    ids=["refused", "unreachable"],
)
def test_an_unknown_account_rate_is_none_with_a_warning(aws: None, logs: io.StringIO, failure: Exception) -> None:
    # Given SES refuses GetAccount (or cannot be reached)
    with faults("sesv2", "GetAccount", [failure]):
        # When the worker asks for the account's rate
        rate = account_max_send_rate()

    # Then there is none (the configured rate applies), and a warning says so
    assert rate is None
    assert [line["level"] for line in json_lines(logs.getvalue())] == ["WARNING"]
