"""Create the table, queues and SES identity on the emulator, as terraform/ declares them in AWS."""

from typing import NamedTuple

from campaign.aws.clients import client
from campaign.aws.queue_spec import dlq_attributes, queue_attributes
from campaign.aws.table_schema import create_table_request, time_to_live_request

DEFAULT_SENDER = "campaigns@example.com"


class LocalResources(NamedTuple):
    table_name: str
    queue_url: str
    queue_arn: str
    dlq_url: str
    sender_address: str
    upload_bucket: str
    # SES's delivery events arrive here (through SNS when deployed; from the local mailbox's SES
    # simulator locally): the worker's second event source.
    events_queue_url: str = ""
    events_queue_arn: str = ""


# Locally the unsubscribe key is a known value (deployed, it is a secret Terraform generates).
LOCAL_UNSUBSCRIBE_KEY = "local-unsubscribe-key"


def environment_of(resources: LocalResources, api_base_url: str = "http://127.0.0.1:8000") -> dict[str, str]:
    """The settings the Lambdas read to find these resources (campaign/config.py)."""
    return {
        "TABLE_NAME": resources.table_name,
        "QUEUE_URL": resources.queue_url,
        "DLQ_URL": resources.dlq_url,
        "SENDER_ADDRESS": resources.sender_address,
        "UPLOAD_BUCKET": resources.upload_bucket,
        "UNSUBSCRIBE_URL": f"{api_base_url}/unsubscribe",
        "UNSUBSCRIBE_KEY": LOCAL_UNSUBSCRIBE_KEY,
        "DELIVERY_EVENTS_QUEUE_ARN": resources.events_queue_arn,
    }


def resource_names(stage: str) -> tuple[str, str, str]:
    """(table, queue, dlq) names: the same pattern as terraform/locals.tf."""
    prefix = f"csv-campaign-{stage}"
    return prefix, f"{prefix}-sends", f"{prefix}-sends-dlq"


def events_queue_names(stage: str) -> tuple[str, str]:
    """(events queue, its DLQ): the same pattern as terraform/events.tf."""
    prefix = f"csv-campaign-{stage}"
    return f"{prefix}-ses-events", f"{prefix}-ses-events-dlq"


def upload_bucket_name(stage: str) -> str:
    """Terraform adds the account id (bucket names are global); the emulator has one account."""
    return f"csv-campaign-{stage}-uploads"


def provision(stage: str = "local", sender_address: str = DEFAULT_SENDER) -> LocalResources:
    table_name, queue_name, dlq_name = resource_names(stage)
    ddb = client("dynamodb")
    ddb.create_table(**create_table_request(table_name))
    ddb.update_time_to_live(**time_to_live_request(table_name))
    queue_url, queue_arn, dlq_url = _queue_with_dlq(queue_name, dlq_name)
    events_url, events_arn, _ = _queue_with_dlq(*events_queue_names(stage))
    client("sesv2").create_email_identity(EmailIdentity=sender_address)
    bucket = upload_bucket_name(stage)
    client("s3").create_bucket(Bucket=bucket)
    return LocalResources(table_name, queue_url, queue_arn, dlq_url, sender_address, bucket, events_url, events_arn)


def _queue_with_dlq(name: str, dlq_name: str) -> tuple[str, str, str]:
    """(url, arn, dlq url) of a queue that dead-letters into its own DLQ."""
    sqs = client("sqs")
    dlq_url = sqs.create_queue(QueueName=dlq_name, Attributes=dlq_attributes())["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=name, Attributes=queue_attributes(dlq_arn))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url
