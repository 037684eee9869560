"""The emulator's SES (scripts/local/emulator.py): GetAccount, which moto lacks, and the local outage
switch that lets a user of `make run` watch sends fail over and come back."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from moto.sesv2.responses import SESV2Response

from campaign.aws.clients import client
from scripts.local import emulator
from scripts.loopback import free_port

SENDER = "sender@example.com"


def test_get_account_answers_like_sesv2(aws: None) -> None:
    # When the emulated SES is asked for the account
    account = client("sesv2").get_account()

    # Then it is a production account sending at the emulator's default rate
    assert account["SendQuota"]["MaxSendRate"] == emulator.DEFAULT_LOCAL_SES_MAX_SEND_RATE
    assert account["SendQuota"]["Max24HourSend"] == emulator.LOCAL_SES_MAX_24_HOUR_SEND
    assert account["SendQuota"]["SentLast24Hours"] == 0.0
    assert account["ProductionAccessEnabled"] is True
    assert account["SendingEnabled"] is True


def test_get_account_reads_the_rate_from_the_environment_at_each_call(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the rate is changed while the emulator runs
    monkeypatch.setenv(emulator.ENV_LOCAL_SES_MAX_SEND_RATE, "3.5")

    # When the account is asked for
    account = client("sesv2").get_account()

    # Then it has the new rate
    assert account["SendQuota"]["MaxSendRate"] == 3.5


@pytest.fixture
def ses_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Any]:
    """The emulator's server with its SES patches (undone after the test), and a SESv2 client that
    tries each call once; the outage file is tmp_path/outage."""
    monkeypatch.setattr(SESV2Response, "send_email", SESV2Response.send_email)
    monkeypatch.setenv(emulator.ENV_LOCAL_SES_OUTAGE_FILE, str(tmp_path / "outage"))
    emulator.install_ses_account()
    emulator.install_ses_outage_switch()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    ses = boto3.client(
        "sesv2", endpoint_url=f"http://127.0.0.1:{port}", config=Config(retries={"total_max_attempts": 1})
    )
    ses.create_email_identity(EmailIdentity=SENDER)
    yield ses
    server.stop()


def _send(ses: Any) -> dict[str, Any]:
    reply: dict[str, Any] = ses.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["success@simulator.amazonses.com"]},
        Content={"Simple": {"Subject": {"Data": "Hello"}, "Body": {"Text": {"Data": "Hi"}}}},
    )
    return reply


def test_the_server_answers_get_account(ses_server: Any) -> None:
    # When the emulator's server is asked for the account over HTTP
    account = ses_server.get_account()

    # Then it answers with the send quota
    assert account["SendQuota"]["MaxSendRate"] == emulator.DEFAULT_LOCAL_SES_MAX_SEND_RATE


def test_while_the_outage_file_exists_ses_is_unavailable(ses_server: Any, tmp_path: Path) -> None:
    # Given the outage file
    (tmp_path / "outage").touch()

    # When a message is sent
    with pytest.raises(ClientError) as refused:
        _send(ses_server)

    # Then SES answers as it does when it is down: 503 ServiceUnavailableException
    assert refused.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_once_the_outage_file_is_gone_ses_sends_again(ses_server: Any, tmp_path: Path) -> None:
    # Given an outage that has ended
    outage = tmp_path / "outage"
    outage.touch()
    with pytest.raises(ClientError):
        _send(ses_server)
    outage.unlink()

    # When a message is sent
    reply = _send(ses_server)

    # Then moto sends it, and counts it in the account's quota
    assert reply["MessageId"]
    assert ses_server.get_account()["SendQuota"]["SentLast24Hours"] >= 1.0
