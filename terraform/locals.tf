locals {
  project = "csv-campaign"

  # One workspace per stage: `terraform workspace select -or-create dev`. Only the stages below may be
  # applied; terraform_data.stage_guard stops a plan in any other workspace (including "default").
  stage = terraform.workspace
  # The same pattern as scripts/local/provision.py resource_names(): csv-campaign-<stage>[-sends[-dlq]].
  name = "${local.project}-${local.stage}"

  # Per-stage sizing. dev mirrors prod's shape (same memory, same timeouts) so that what is measured in
  # dev holds in prod; it differs where cost or safety differ.
  stage_config = {
    dev = {
      log_retention_days = 14
      log_level          = "DEBUG"
      # HTTP API throttling for the $default stage: steady requests per second and burst.
      api_rate_limit  = 5
      api_burst_limit = 10
      # Deleting a dev table is a normal part of tearing dev down.
      deletion_protection = false
      # 0 deletes the secret at once on destroy, so the same name can be recreated right after.
      secret_recovery_window_days = 0
    }
    prod = {
      log_retention_days          = 90
      log_level                   = "INFO"
      api_rate_limit              = 20
      api_burst_limit             = 50
      deletion_protection         = true
      secret_recovery_window_days = 30
    }
  }
  # Falls back to dev's values only so that the guard below can report a wrong workspace clearly;
  # a plan in such a workspace always fails.
  cfg = lookup(local.stage_config, local.stage, local.stage_config["dev"])

  # Lambda sizing. The ingestor parses a CSV of up to 4.5 MB, validates every address and makes one
  # SQS/DynamoDB call per 10/25 rows, all inside API Gateway's 30 s: 1024 MB buys ~0.6 vCPU (CPU grows
  # with memory) and a faster cold start of FastAPI + Strawberry + pydantic. Its timeout stays under the
  # HTTP API's 30 s integration limit and under campaign.limits.INGEST_LEASE_SECONDS (60 s).
  ingestor_memory_mb       = 1024
  ingestor_timeout_seconds = 29
  # The worker waits on DynamoDB and SES, one message after another: it is I/O-bound, so 256 MB is
  # enough and cheapest per message. Its timeout must equal campaign.limits.WORKER_TIMEOUT_SECONDS: the
  # worker treats a claim older than twice that as abandoned (tests/infra checks the value).
  worker_memory_mb       = 256
  worker_timeout_seconds = 30
  # campaign.limits.WORKER_BATCH_SIZE: the event source mapping's batch size (the local poller uses it too).
  # The worker reads the suppression list once per batch, so a large batch keeps that read a small part
  # of a send's requests; above 10 Lambda requires a batching window of at least a second (variables.tf).
  # The worker sends a batch one message after another and stops, giving the rest back, when too little
  # of its timeout is left (campaign.limits.WORKER_SEND_MARGIN_SECONDS).
  worker_batch_size = 100
  # campaign.limits.WORKER_INSTANCE_SENDS_PER_SECOND: the send rate one worker instance is counted on
  # for, well under what one reaches (WORKER_SEND_CONCURRENCY sends in flight), so the fleet can always
  # fill its rate.
  worker_instance_sends_per_second = 50
  # The event source mapping's maximum concurrency. With send_rate_per_second set, only as many
  # instances as that rate needs: ceil(rate / worker_instance_sends_per_second), at least 2 (the
  # mapping's minimum) and at most var.worker_max_concurrency. More would only wait on the shared
  # token bucket and put messages back on the queue (each a receive, counted against
  # max_receive_count). Without it the rate is the SES account's, which Terraform cannot read: the
  # variable applies as it is.
  worker_concurrency = (var.send_rate_per_second == null
    ? var.worker_max_concurrency
  : max(2, min(var.worker_max_concurrency, ceil(var.send_rate_per_second / local.worker_instance_sends_per_second))))
  # The streaming ingest reads files of up to 1 GB twice (a checking pass, then the queueing pass),
  # decoding, parsing and validating every address: it is CPU-bound between its SQS/DynamoDB steps, and
  # 1024 MB buys ~0.6 vCPU (CPU grows with memory). Memory itself stays flat whatever the file's size:
  # one window of rows (campaign.limits.STREAM_WINDOW_ROWS / STREAM_WINDOW_BYTES, at most 16 MB of row
  # text), 16 bytes per recipient for duplicates (16 MB at the 1,000,000-row cap) and the read buffers.
  # Its timeout must equal campaign.limits.STREAM_INGEST_TIMEOUT_SECONDS, Lambda's maximum: the code
  # hands over to a continuation when less than STREAM_CONTINUE_MARGIN_SECONDS are left.
  stream_ingest_memory_mb       = 1024
  stream_ingest_timeout_seconds = 900
  # Lambda's maximum retries of a failed asynchronous event (why retrying is safe: stream_ingest.tf),
  # and its maximum event age (6 h).
  stream_ingest_retry_attempts        = 2
  stream_ingest_max_event_age_seconds = 6 * 3600
  # The stream consumer adds up a delivery of send-row changes per batch and writes each batch's counts
  # once (one transaction per 100 batches): it waits on DynamoDB, so 256 MB is enough. A delivery is a
  # transaction or a few; the timeout leaves room for botocore's retries of a throttled one.
  counts_memory_mb       = 256
  counts_timeout_seconds = 60
  # scripts.local.stream_poller.STREAM_BATCH_SIZE: records per delivery. The larger the delivery, the
  # fewer count writes per row change (a campaign sending 1,000 emails a second updates a batch's counts
  # a few times a second, not 1,000).
  counts_batch_size = 1000
  # Retries of a delivery the consumer keeps failing on, before the mapping sets it aside (counts.tf).
  counts_retry_attempts = 10
  # Under DynamoDB's ten-minute window for a transaction's idempotency token (counts.tf).
  counts_max_record_age_seconds = 540

  # campaign.aws.queue_spec: retention of the send queue and of its dead-letter queue.
  queue_retention_seconds = 4 * 24 * 3600
  dlq_retention_seconds   = 14 * 24 * 3600

  # SEND_MODE's providers (campaign.config.parse_send_mode); "dry-run" names none. The SMTP relay's
  # secret and settings exist only when smtp is one of them.
  send_providers   = var.send_mode == "dry-run" ? [] : split(",", var.send_mode)
  smtp_is_provider = contains(local.send_providers, "smtp")

  # The From address: the identity itself when it is an address, else var.sender_address at the domain.
  sender_address   = coalesce(var.sender_address, var.ses_identity)
  identity_is_addr = strcontains(var.ses_identity, "@")

  # Names that need the account: bucket names are global, and the streaming ingest's own ARN is built
  # here rather than read from the function (whose role would then depend on the function: a cycle).
  account_id                  = data.aws_caller_identity.current.account_id
  upload_bucket_name          = "${local.name}-uploads-${local.account_id}"
  stream_ingest_function_name = "${local.name}-stream-ingest"
  stream_ingest_function_arn  = "arn:${data.aws_partition.current.partition}:lambda:${var.aws_region}:${local.account_id}:function:${local.stream_ingest_function_name}"
  # campaign.aws.upload_store UPLOAD_PREFIX / UPLOAD_SUFFIX: where POST /uploads puts files
  # (uploads/<batchId>.csv), hence the notification filter and both roles' S3 resources.
  upload_prefix = "uploads/"
  upload_suffix = ".csv"

  # Powertools Metrics namespace of every function (EMF, through the logs); PutMetricData, if ever
  # used, is confined to it too (iam.tf).
  metrics_namespace = "CsvCampaign/${local.stage}"

  # The HTTP API routes, one per route the FastAPI app serves (tests/infra compares them with the app).
  api_routes = [
    "POST /upload",
    "POST /uploads",
    # Named as the app names its path parameter; API Gateway passes the raw path through.
    "GET /uploads/{upload_id}",
    "ANY /graphql", # GET serves GraphiQL, POST runs queries
    "GET /docs",
    # Swagger UI's and GraphiQL's scripts and styles, served by the app (app/static): no CDN.
    "GET /assets/{proxy+}",
    "GET /openapi.json",
    "GET /health",
    # One-click unsubscribe (no API key: the link's token is the credential); GET shows the page.
    "GET /unsubscribe",
    "POST /unsubscribe",
  ]
  # CORS preflights, routed to the app (which answers them) only when origins are allowed;
  # ANY /graphql already takes OPTIONS.
  api_preflight_routes = ["OPTIONS /upload", "OPTIONS /uploads"]
}

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# Fails the plan in any workspace other than dev or prod, or when the -var-file does not match the
# workspace (applying prod.tfvars in dev, say).
resource "terraform_data" "stage_guard" {
  input = local.stage

  lifecycle {
    precondition {
      condition     = contains(keys(local.stage_config), local.stage)
      error_message = "Select the dev or prod workspace (terraform workspace select -or-create dev); \"${local.stage}\" is not a stage."
    }
    precondition {
      condition     = var.stage == local.stage
      error_message = "The var-file is for stage \"${var.stage}\" but the workspace is \"${local.stage}\": use -var-file=${local.stage}.tfvars."
    }
    precondition {
      # An address identity verifies that one address; a domain identity verifies addresses at the domain.
      condition = (local.identity_is_addr
        ? lower(local.sender_address) == lower(var.ses_identity)
      : endswith(lower(local.sender_address), "@${lower(var.ses_identity)}"))
      error_message = "sender_address must be the SES identity itself (an address) or an address at it (a domain); set it when ses_identity is a domain."
    }
  }
}
