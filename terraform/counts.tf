################################################################################
# Stream consumer: the table's stream (send rows only) -> each batch's status counts on its COUNTS#
# item (worker/count_changes.py, in the worker zip)
################################################################################

module "counts" {
  source = "./modules/lambda_function"

  name_prefix = local.name
  name        = "counts"
  description = "Keeps each batch's status counts from the table's stream of send-row changes"

  # The worker's package: it holds worker/count_changes.py and no web framework (scripts/package_lambdas.py).
  filename = var.worker_zip
  handler  = "worker.count_changes.handler"
  # Sizes and the timeout are explained in locals.tf.
  memory_size = local.counts_memory_mb
  timeout     = local.counts_timeout_seconds

  role_description   = "Execution role of the csv-campaign ${local.stage} stream-consumer (batch counts) Lambda"
  policy_json        = data.aws_iam_policy_document.counts.json
  log_retention_days = local.cfg.log_retention_days

  environment_variables = {
    # campaign.config.counter_settings()
    TABLE_NAME         = aws_dynamodb_table.this.name
    STAGE              = local.stage
    DEDUPE_WINDOW_DAYS = tostring(var.dedupe_window_days)
    RETENTION_DAYS     = tostring(var.retention_days)
    # Powertools Logger, Metrics and Tracer (campaign/observability.py)
    POWERTOOLS_SERVICE_NAME      = local.counts_service
    POWERTOOLS_LOG_LEVEL         = local.cfg.log_level
    POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
  }
}

# Where these resources were before the module: Terraform moves them, nothing is replaced.
moved {
  from = aws_cloudwatch_log_group.counts
  to   = module.counts.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.counts
  to   = module.counts.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.counts
  to   = module.counts.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.counts
  to   = module.counts.aws_lambda_function.this
}

# Where the mapping describes a delivery it gave up on (every retry failed): the shard and the range of
# sequence numbers, not the records. The rows themselves are right; the counts of their batches are off
# (alarms.tf).
resource "aws_sqs_queue" "counts_failures" {
  name                      = "${local.name}-counts-failures"
  message_retention_seconds = local.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_lambda_event_source_mapping" "counts" {
  event_source_arn = aws_dynamodb_table.this.stream_arn
  function_name    = module.counts.arn
  # From the oldest record the stream still holds, so changes made before the mapping existed (or while
  # it was disabled) are counted too.
  starting_position = "TRIM_HORIZON"

  # scripts.local.stream_poller.STREAM_BATCH_SIZE (locals.tf); the window gathers a burst of changes
  # into one delivery, so the counts are written once for all of them.
  batch_size                         = local.counts_batch_size
  maximum_batching_window_in_seconds = 1

  # Only send rows change counts (campaign.aws.table_schema.SEND_PREFIX): the changes of batches,
  # bodies, message keys and of the counts items themselves never invoke the function.
  filter_criteria {
    filter {
      pattern = jsonencode({ dynamodb = { Keys = { pk = { S = [{ prefix = "SEND#" }] } } } })
    }
  }

  # A delivery that keeps failing is tried again a bounded number of times, then set aside in the
  # failures queue, so that one bad record cannot hold every later count of its shard for the stream's
  # 24 hours. A retry is the same records, hence the same transaction tokens (campaign/services/
  # count_changes.py), and DynamoDB applies a transaction whose token it saw in the last ten minutes only
  # once. Splitting a failed delivery would change its tokens, and could count twice what it had written.
  maximum_retry_attempts         = local.counts_retry_attempts
  bisect_batch_on_function_error = false
  # A delivery is retried only while its records are younger than the token's ten minutes: a retry
  # after a write that succeeded (the function died before it returned) can then never count twice.
  # Older, it goes to the failures queue instead (alarmed), and its batches' counts stay short.
  maximum_record_age_in_seconds = local.counts_max_record_age_seconds

  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.counts_failures.arn
    }
  }

  # The mapping reads the stream, and sends to the destination, with the function's role.
  depends_on = [module.counts]
}
