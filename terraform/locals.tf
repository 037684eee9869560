locals {
  project = "csv-campaign"

  # One workspace per stage: `terraform workspace select -or-create dev`. Only the stages below may be
  # applied; terraform_data.stage_guard stops a plan in any other workspace (including "default").
  stage = terraform.workspace
  # The same pattern as campaign/local/provision.py resource_names(): csv-campaign-<stage>[-sends[-dlq]].
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
  worker_batch_size = 10

  # campaign.aws.queue_spec: retention of the send queue and of its dead-letter queue.
  queue_retention_seconds = 4 * 24 * 3600
  dlq_retention_seconds   = 14 * 24 * 3600

  # The From address: the identity itself when it is an address, else var.sender_address at the domain.
  sender_address   = coalesce(var.sender_address, var.ses_identity)
  identity_is_addr = strcontains(var.ses_identity, "@")

  # Powertools Metrics namespace of both functions (EMF, through the logs); PutMetricData, if ever
  # used, is confined to it too (iam.tf).
  metrics_namespace = "CsvCampaign/${local.stage}"

  # The HTTP API routes, one per route the FastAPI app serves (tests/infra compares them with the app).
  api_routes = [
    "POST /upload",
    "ANY /graphql", # GET serves GraphiQL, POST runs queries
    "GET /docs",
    "GET /openapi.json",
    "GET /health",
  ]
  # CORS preflights, routed to the app (which answers them) only when origins are allowed;
  # ANY /graphql already takes OPTIONS.
  api_preflight_routes = ["OPTIONS /upload"]
}

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
