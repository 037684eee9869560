"""The emulator's fixes that `terraform apply` needs (scripts/local/emulator.py, install_terraform_fidelity):
each answer in the shape AWS documents, over the emulator's HTTP server, as the AWS provider reads it."""

import io
import json
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.awslambda import models as lambda_models
from moto.s3 import models as s3_models
from moto.s3.responses import S3Response
from moto.server import ThreadedMotoServer
from moto.sesv2 import models as sesv2_models
from moto.sesv2 import urls as sesv2_urls
from moto.sesv2.responses import SESV2Response
from moto.sqs import models as sqs_models

from scripts.local import emulator
from scripts.loopback import free_port

CONFIG_SET = "csv-campaign-dev"
TOPIC_ARN = "arn:aws:sns:us-east-1:123456789012:csv-campaign-dev-ses-events"
PATCHED = (
    (sqs_models.Queue, "attributes"),
    (sqs_models.SQSBackend, "get_queue_attributes"),
    (SESV2Response, "get_configuration_set"),
    (SESV2Response, "create_configuration_set_event_destination"),
    (SESV2Response, "get_configuration_set_event_destinations"),
    (SESV2Response, "update_configuration_set_event_destination"),
    (SESV2Response, "delete_configuration_set_event_destination"),
    (s3_models.FakeBucket, "set_lifecycle"),
    (s3_models.FakeBucket, "get_permission"),
    (S3Response, "get_bucket_lifecycle"),
    (lambda_models.LambdaFunction, "get_configuration"),
    (sesv2_models.SESV2Backend, "create_email_identity"),
)


@pytest.fixture
def endpoint(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The emulator's server with the Terraform fixes, undone after the test (other tests see plain moto)."""
    for owner, name in PATCHED:
        monkeypatch.setattr(owner, name, owner.__dict__.get(name), raising=False)
    monkeypatch.setattr(sesv2_urls, "url_paths", dict(sesv2_urls.url_paths))
    emulator.install_terraform_fidelity()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # moto's backends are process-wide: start from none.
    httpx.post(f"http://127.0.0.1:{port}/moto-api/reset").raise_for_status()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def test_sqs_returns_the_redrive_allow_policy(endpoint: str) -> None:
    # Given a DLQ whose redrive allow policy is set, as aws_sqs_queue_redrive_allow_policy does
    sqs = _client("sqs", endpoint)
    dlq = sqs.create_queue(QueueName="sends-dlq")["QueueUrl"]
    policy = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": ["arn:aws:sqs:us-east-1:1:sends"]})
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": policy})

    # When its attributes are read, all of them or that one by name
    every = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    named = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["RedriveAllowPolicy", "QueueArn"])["Attributes"]

    # Then the policy is there, as SQS returns it
    assert every["RedriveAllowPolicy"] == policy
    assert named == {"RedriveAllowPolicy": policy, "QueueArn": every["QueueArn"]}


def test_sqs_leaves_out_a_redrive_allow_policy_never_set(endpoint: str) -> None:
    # Given a queue without one / Then neither "All" nor its name returns one
    sqs = _client("sqs", endpoint)
    queue = sqs.create_queue(QueueName="plain")["QueueUrl"]
    assert "RedriveAllowPolicy" not in sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert "Attributes" not in sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedriveAllowPolicy"])


def test_sesv2_configuration_set_has_the_documented_shape(endpoint: str) -> None:
    # Given the configuration set of ses.tf
    ses = _client("sesv2", endpoint)
    ses.create_configuration_set(
        ConfigurationSetName=CONFIG_SET,
        DeliveryOptions={"TlsPolicy": "REQUIRE"},
        ReputationOptions={"ReputationMetricsEnabled": True},
        SendingOptions={"SendingEnabled": True},
        SuppressionOptions={"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
        Tags=[{"Key": "Stage", "Value": "dev"}],
    )

    # When it is read
    config_set = ses.get_configuration_set(ConfigurationSetName=CONFIG_SET)

    # Then SendingOptions.SendingEnabled is a boolean, the options set come back and those never set are absent
    assert config_set["SendingOptions"] == {"SendingEnabled": True}
    assert config_set["DeliveryOptions"] == {"TlsPolicy": "REQUIRE"}
    assert config_set["ReputationOptions"] == {"ReputationMetricsEnabled": True}
    assert config_set["SuppressionOptions"] == {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]}
    assert config_set["Tags"] == [{"Key": "Stage", "Value": "dev"}]
    assert "TrackingOptions" not in config_set and "VdmOptions" not in config_set


def test_sesv2_configuration_set_defaults(endpoint: str) -> None:
    # Given a configuration set created with nothing but its name / Then SES's defaults come back
    ses = _client("sesv2", endpoint)
    ses.create_configuration_set(ConfigurationSetName="bare")
    config_set = ses.get_configuration_set(ConfigurationSetName="bare")
    assert config_set["SendingOptions"] == {"SendingEnabled": True}
    assert config_set["DeliveryOptions"] == {"TlsPolicy": "OPTIONAL"}


def test_sesv2_event_destinations_are_kept(endpoint: str) -> None:
    # Given the event destination of events.tf
    ses = _client("sesv2", endpoint)
    ses.create_configuration_set(ConfigurationSetName=CONFIG_SET)
    destination = {
        "Enabled": True,
        "MatchingEventTypes": ["DELIVERY", "BOUNCE", "COMPLAINT"],
        "SnsDestination": {"TopicArn": TOPIC_ARN},
    }
    ses.create_configuration_set_event_destination(
        ConfigurationSetName=CONFIG_SET, EventDestinationName="delivery-events", EventDestination=destination
    )

    # Then it is listed, updated and deleted as SES does
    listed = ses.get_configuration_set_event_destinations(ConfigurationSetName=CONFIG_SET)["EventDestinations"]
    assert listed == [{"Name": "delivery-events", **destination}]
    ses.update_configuration_set_event_destination(
        ConfigurationSetName=CONFIG_SET,
        EventDestinationName="delivery-events",
        EventDestination={**destination, "Enabled": False},
    )
    listed = ses.get_configuration_set_event_destinations(ConfigurationSetName=CONFIG_SET)["EventDestinations"]
    assert listed[0]["Enabled"] is False
    with pytest.raises(ClientError) as duplicate:
        ses.create_configuration_set_event_destination(
            ConfigurationSetName=CONFIG_SET, EventDestinationName="delivery-events", EventDestination=destination
        )
    assert duplicate.value.response["Error"]["Code"] == "AlreadyExistsException"
    ses.delete_configuration_set_event_destination(
        ConfigurationSetName=CONFIG_SET, EventDestinationName="delivery-events"
    )
    assert ses.get_configuration_set_event_destinations(ConfigurationSetName=CONFIG_SET)["EventDestinations"] == []


def test_s3_lifecycle_keeps_newer_noncurrent_versions(endpoint: str) -> None:
    # Given the state bucket's lifecycle rule (terraform/bootstrap/main.tf)
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket="state")
    rule = {
        "ID": "expire-old-state-versions",
        "Status": "Enabled",
        "Filter": {},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 90, "NewerNoncurrentVersions": 10},
    }
    s3.put_bucket_lifecycle_configuration(Bucket="state", LifecycleConfiguration={"Rules": [rule]})

    # When it is read / Then NewerNoncurrentVersions comes back
    (read,) = s3.get_bucket_lifecycle_configuration(Bucket="state")["Rules"]
    assert read["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90, "NewerNoncurrentVersions": 10}


def _tls_only_policy(bucket: str) -> str:
    resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {**deny, "Sid": "DenyInsecureTransport", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {**deny, "Sid": "DenyTlsBelow12", "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
            ],
        }
    )


def test_s3_tls_only_bucket_policy_lets_requests_through(endpoint: str) -> None:
    # Given the state bucket's TLS-only policy
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket="state")
    s3.put_bucket_policy(Bucket="state", Policy=_tls_only_policy("state"))

    # When the state is written and read (the emulator stands for AWS's HTTPS endpoint) / Then S3 allows it
    s3.put_object(Bucket="state", Key="env:/dev/terraform.tfstate", Body=b"{}")
    assert s3.get_object(Bucket="state", Key="env:/dev/terraform.tfstate")["Body"].read() == b"{}"


def test_s3_unconditional_deny_still_denies(endpoint: str) -> None:
    # Given a bucket policy denying reads without a condition / Then a read is refused
    s3 = _client("s3", endpoint)
    s3.create_bucket(Bucket="locked")
    s3.put_object(Bucket="locked", Key="k", Body=b"x")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::locked/*"}
        ],
    }
    s3.put_bucket_policy(Bucket="locked", Policy=json.dumps(policy))
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket="locked", Key="k")
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_tls_conditions_are_evaluated_as_tls_1_3_and_other_keys_are_left_to_moto() -> None:
    # Given a request to the emulator, taken as made over TLS 1.3
    # When bucket-policy conditions are evaluated
    # Then a condition on the TLS keys holds or fails as on AWS's HTTPS endpoint; any other key is left to moto
    assert emulator._condition_holds({"Bool": {"aws:SecureTransport": "false"}}) is False
    assert emulator._condition_holds({"Bool": {"aws:SecureTransport": ["true"]}}) is True
    assert emulator._condition_holds({"NumericLessThan": {"s3:TlsVersion": "1.2"}}) is False
    assert emulator._condition_holds({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}) is None
    assert emulator._condition_holds({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}) is None


def test_sqs_redrive_policy_is_compact_json(endpoint: str) -> None:
    # Given a queue with a redrive policy as Terraform's jsonencode writes it / Then it comes back unchanged
    sqs = _client("sqs", endpoint)
    dlq_arn = "arn:aws:sqs:us-east-1:123456789012:sends-dlq"
    sqs.create_queue(QueueName="sends-dlq")
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5}, separators=(",", ":"))
    queue = sqs.create_queue(QueueName="sends", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    assert sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]["RedrivePolicy"] == policy


def test_sesv2_identity_tags_are_read_by_its_arn(endpoint: str) -> None:
    # Given an identity created with tags / Then they are listed under the identity's ARN
    ses = _client("sesv2", endpoint)
    ses.create_email_identity(EmailIdentity="mail.acme-campaigns.io", Tags=[{"Key": "Stage", "Value": "dev"}])
    arn = "arn:aws:ses:us-east-1:123456789012:identity/mail.acme-campaigns.io"
    assert ses.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "Stage", "Value": "dev"}]


def test_lambda_configuration_has_the_default_logging_config(endpoint: str) -> None:
    # Given a function / Then its configuration has Lambda's default LoggingConfig
    iam = _client("iam", endpoint)
    role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lambda_ = _client("lambda", endpoint)
    with io.BytesIO() as buffer:
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
        code = buffer.getvalue()
    lambda_.create_function(
        FunctionName="fn", Runtime="python3.12", Role=role, Handler="handler.handler", Code={"ZipFile": code}
    )
    configuration = lambda_.get_function_configuration(FunctionName="fn")
    assert configuration["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/fn"}
