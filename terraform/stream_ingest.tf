################################################################################
# Streaming-ingest Lambda: an S3 ObjectCreated notification on the upload bucket (uploads.tf), or its
# own continuation, -> the file's rows queued window by window (worker/s3_ingest.py, in the worker zip)
################################################################################

module "stream_ingest" {
  source = "./modules/lambda_function"

  name_prefix = local.name
  name        = "stream-ingest"
  description = "Ingests a large CSV from the upload bucket: checks it, then queues its rows window by window"

  # The worker's package: it holds worker/s3_ingest.py and no web framework (scripts/package_lambdas.py).
  filename = var.worker_zip
  handler  = "worker.s3_ingest.handler"
  # Sizes, the timeout (= campaign.limits.STREAM_INGEST_TIMEOUT_SECONDS) and the concurrency cap are
  # explained in locals.tf and variables.tf.
  memory_size                    = local.stream_ingest_memory_mb
  timeout                        = local.stream_ingest_timeout_seconds
  reserved_concurrent_executions = var.stream_ingest_reserved_concurrency

  role_description   = "Execution role of the csv-campaign ${local.stage} streaming-ingest Lambda"
  policy_json        = data.aws_iam_policy_document.stream_ingest.json
  log_retention_days = local.cfg.log_retention_days

  environment_variables = {
    # campaign.config.stream_ingest_settings(). AWS_LAMBDA_FUNCTION_NAME, which the continuation
    # invokes, is set by the Lambda runtime (a reserved name that cannot be set here).
    TABLE_NAME            = aws_dynamodb_table.this.name
    STAGE                 = local.stage
    QUEUE_URL             = module.sends.url
    ENQUEUE_DELAY_SECONDS = tostring(var.enqueue_delay_seconds)
    UPLOAD_BUCKET         = aws_s3_bucket.uploads.bucket
    # Days a message key blocks a second send of the same message, and days rows, bodies and
    # batches are kept before their time to live (variables.tf).
    DEDUPE_WINDOW_DAYS = tostring(var.dedupe_window_days)
    RETENTION_DAYS     = tostring(var.retention_days)
    # Powertools Logger, Metrics and Tracer (campaign/observability.py)
    POWERTOOLS_SERVICE_NAME      = local.stream_ingest_service
    POWERTOOLS_LOG_LEVEL         = local.cfg.log_level
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
  }
}

# Where these resources were before the module: Terraform moves them, nothing is replaced.
moved {
  from = aws_cloudwatch_log_group.stream_ingest
  to   = module.stream_ingest.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.stream_ingest
  to   = module.stream_ingest.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.stream_ingest
  to   = module.stream_ingest.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.stream_ingest
  to   = module.stream_ingest.aws_lambda_function.this
}

# Where an event goes once Lambda has given up on it (every retry failed, or it grew too old): the
# upload it names is stuck INGESTING or AWAITING_UPLOAD until an operator looks (alarms.tf).
resource "aws_sqs_queue" "stream_ingest_failures" {
  name                      = "${local.name}-stream-ingest-failures"
  message_retention_seconds = local.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
}

# S3 notifications and the continuation are asynchronous invokes: Lambda queues them, retries a failed
# one, then hands it to the on-failure destination.
resource "aws_lambda_function_event_invoke_config" "stream_ingest" {
  function_name = module.stream_ingest.function_name

  # Retries are safe and useful: the ingest checkpoints after every window and a retry resumes after
  # the last checkpoint once the crashed attempt's lease (campaign.limits.INGEST_LEASE_SECONDS) lapses;
  # Lambda waits about 1 and then 2 minutes between attempts, past that lease.
  maximum_retry_attempts = local.stream_ingest_retry_attempts
  # Lambda's own ceiling (6 h) also bounds how long an event may wait while reserved concurrency
  # throttles it; uploads expire much later (var.upload_expiration_days).
  maximum_event_age_in_seconds = local.stream_ingest_max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.stream_ingest_failures.arn
    }
  }

  # Lambda checks that the execution role may send to the destination when this is saved.
  depends_on = [module.stream_ingest]
}
