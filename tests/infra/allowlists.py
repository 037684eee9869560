"""What Terraform sets or grants beyond what the code itself reads or calls, each entry with its reason.

The infra tests derive everything else from the code (the settings it reads, the AWS calls it makes on
moto), so they fail for any environment variable or permission that is neither used nor listed here.

Resource kinds name what a permission is on: "table", "index" (its GSIs), "queue", "dlq",
"events-queue" (SES's delivery events), "ses-identity", "ses-configuration-set", "api-key-secret",
"unsubscribe-key-secret", "smtp-secret" (the SMTP relay's login), "upload-objects" (uploads/* in the
upload bucket), "upload-bucket" (the bucket itself), "stream-ingest-function" (the streaming ingest
itself), "stream-ingest-failures" (its on-failure destination), "stream" (the table's stream),
"counts-failures" (the stream mapping's on-failure destination), "log-group:<resource name>", "*" (none).
"""

# PENDING: what Terraform provides before the code uses it (a setting or grant that lands ahead of
# its code), so that the tests still fail for anything else. An entry looks like
#     "ingestor": {"env": {"API_KEY_SECRET_ARN"}, "actions": {("secretsmanager:GetSecretValue", "api-key-secret")}}
# An entry that the code reads or calls already makes the tests fail, so this list cannot go stale.
PENDING: dict[str, dict[str, frozenset[object]]] = {}

# Settings the code reads that Terraform must never set. API_KEY and UNSUBSCRIBE_KEY are keys themselves,
# for the local stack; deployed functions read them from Secrets Manager (API_KEY_SECRET_ARN,
# UNSUBSCRIBE_KEY_SECRET_ARN), so no key sits in a function's configuration. The same goes for the SMTP
# relay's login (SMTP_USERNAME, SMTP_PASSWORD; deployed: SMTP_SECRET_ARN). SMTP_CA_FILE trusts a private
# CA (the local mailbox's, the tests' certificate): a deployed relay has a publicly trusted one.
LOCAL_ONLY_ENV: dict[str, frozenset[str]] = {
    "ingestor": frozenset({"API_KEY", "UNSUBSCRIBE_KEY"}),
    "worker": frozenset({"UNSUBSCRIBE_KEY", "SMTP_USERNAME", "SMTP_PASSWORD", "SMTP_CA_FILE"}),
}

# Settings the code reads that the Lambda runtime sets: reserved names, which a function's configuration
# may not set (CreateFunction refuses them). The streaming ingest continues itself under its own name.
RUNTIME_ENV: dict[str, frozenset[str]] = {"stream_ingest": frozenset({"AWS_LAMBDA_FUNCTION_NAME"})}

# Lambda's event source mappings read their source with the function's execution role, so a role needs
# these although the function's code never makes the calls.
# - worker (SQS): poll and delete (AWS: "Execution role permissions" for SQS event sources).
#   ChangeMessageVisibility is not needed: failed messages simply time out.
# - counts (DynamoDB Streams): read the table's stream (AWS: "IAM policy to allow an AWS Lambda function
#   to access DynamoDB stream records"), and describe a delivery that failed every retry to the mapping's
#   on-failure destination.
# The local pollers (scripts/local/sqs_poller.py, stream_poller.py) stand in for the mappings; the IAM
# test checks that the calls they make are within this list.
EVENT_SOURCE_MAPPING: dict[str, frozenset[tuple[str, str]]] = {
    "worker": frozenset(
        {
            ("sqs:ReceiveMessage", "queue"),
            ("sqs:DeleteMessage", "queue"),
            ("sqs:GetQueueAttributes", "queue"),
            ("sqs:ReceiveMessage", "events-queue"),
            ("sqs:DeleteMessage", "events-queue"),
            ("sqs:GetQueueAttributes", "events-queue"),
        }
    ),
    "counts": frozenset(
        {
            ("dynamodb:DescribeStream", "stream"),
            ("dynamodb:GetRecords", "stream"),
            ("dynamodb:GetShardIterator", "stream"),
            ("dynamodb:ListStreams", "stream"),
            ("sqs:SendMessage", "counts-failures"),
        }
    ),
}


# Lambda hands an asynchronous event that failed every retry to the function's on-failure destination,
# sending it with the function's execution role (AWS: "Adding a destination"); the code never does.
ASYNC_ON_FAILURE: dict[str, frozenset[tuple[str, str]]] = {
    "stream_ingest": frozenset({("sqs:SendMessage", "stream-ingest-failures")}),
}


# S3 answers a GetObject for a missing key with 404 NoSuchKey only when the caller may list the bucket;
# otherwise with 403 AccessDenied (AWS: GetObject, "Permissions"). The streaming ingest fails a batch
# whose upload is gone (upload_missing) on NoSuchKey and lets any other error propagate, so its role may
# list the bucket; no call of its own lists it. (moto answers 404 either way.)
MISSING_KEY_AS_404: dict[str, frozenset[tuple[str, str]]] = {
    "stream_ingest": frozenset({("s3:ListBucket", "upload-bucket")}),
}


def platform_actions(own_log_group: str) -> frozenset[tuple[str, str]]:
    """Calls the Lambda service makes with every function's execution role, not the function's code."""
    return frozenset(
        {
            # The runtime ships stdout/stderr to the function's own log group (created by Terraform, so
            # no logs:CreateLogGroup).
            ("logs:CreateLogStream", f"log-group:{own_log_group}"),
            ("logs:PutLogEvents", f"log-group:{own_log_group}"),
            # Active X-Ray tracing: the service sends segments; these actions take no resource.
            ("xray:PutTraceSegments", "*"),
            ("xray:PutTelemetryRecords", "*"),
        }
    )


# Actions AWS authorizes only on "*": the only ones that may have "*" as their resource.
# (No cloudwatch:PutMetricData: Powertools Metrics writes EMF to the logs, which needs no permission.)
# ses:GetAccount reads the account's send quota: the SES service authorization reference lists it with
# no resource type, so "*" is the only resource a policy can name for it.
NO_RESOURCE_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords", "ses:GetAccount"})
