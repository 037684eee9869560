################################################################################
# Worker Lambda: SQS batch -> one send per message through its providers, SES and/or an SMTP relay,
# at the fleet's shared rate (worker/handler.py)
################################################################################

module "worker" {
  source = "./modules/lambda_function"

  name_prefix = local.name
  name        = "worker"
  description = "Sends one queued campaign email per SQS message through SES or an SMTP relay"

  filename = var.worker_zip
  handler  = "worker.handler.handler"
  # Sizes and the timeout (= campaign.limits.WORKER_TIMEOUT_SECONDS) are explained in locals.tf.
  memory_size = local.worker_memory_mb
  timeout     = local.worker_timeout_seconds

  role_description   = "Execution role of the csv-campaign ${local.stage} worker Lambda"
  policy_json        = data.aws_iam_policy_document.worker.json
  log_retention_days = local.cfg.log_retention_days

  # campaign.config.worker_settings(). The entries merged in after the first exist only when their
  # setting does: SEND_RATE_PER_SECOND when send_rate_per_second is set, the SMTP relay's when
  # send_mode names smtp.
  environment_variables = merge(
    {
      TABLE_NAME = aws_dynamodb_table.this.name
      STAGE      = local.stage
      SEND_MODE  = var.send_mode
      # The send queue: a message that gets no send token within the invocation goes back on it, delayed.
      QUEUE_URL             = module.sends.url
      SENDER_ADDRESS        = local.sender_address
      SES_CONFIGURATION_SET = aws_sesv2_configuration_set.this.configuration_set_name
      # The second event source (events.tf): records from this queue are SES events, not sends.
      DELIVERY_EVENTS_QUEUE_ARN = module.ses_events.arn
      # Every message's one-click unsubscribe link: POST /unsubscribe on the API, signed with this key.
      UNSUBSCRIBE_URL            = "${aws_apigatewayv2_api.this.api_endpoint}/unsubscribe"
      UNSUBSCRIBE_KEY_SECRET_ARN = aws_secretsmanager_secret.unsubscribe_key.arn
      UNSUBSCRIBE_FOOTER         = var.unsubscribe_footer
      # Must equal the redrive policy's maxReceiveCount (queue.tf): the worker records ERROR on that receive.
      MAX_RECEIVE_COUNT = tostring(var.max_receive_count)
      # Days a message key blocks a second send of the same message, and days rows, bodies and
      # batches are kept before their time to live (variables.tf).
      DEDUPE_WINDOW_DAYS = tostring(var.dedupe_window_days)
      RETENTION_DAYS     = tostring(var.retention_days)
      # Powertools Logger, Metrics and Tracer (campaign/observability.py)
      POWERTOOLS_SERVICE_NAME      = local.worker_service
      POWERTOOLS_LOG_LEVEL         = local.cfg.log_level
      POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    },
    # The fleet's send rate cap; unset, the SES account's MaxSendRate applies.
    var.send_rate_per_second == null ? null : {
      SEND_RATE_PER_SECOND = tostring(var.send_rate_per_second)
    },
    # The SMTP relay; its login is read from the secret (secrets.tf), never set here.
    local.smtp_is_provider ? {
      SMTP_HOST       = var.smtp_host
      SMTP_PORT       = tostring(var.smtp_port)
      SMTP_TLS        = var.smtp_tls
      SMTP_SECRET_ARN = aws_secretsmanager_secret.smtp[0].arn
    } : null,
  )
}

# Where these resources were before the module: Terraform moves them, nothing is replaced.
moved {
  from = aws_cloudwatch_log_group.worker
  to   = module.worker.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.worker
  to   = module.worker.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.worker
  to   = module.worker.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.worker
  to   = module.worker.aws_lambda_function.this
}

# The worker's two event sources: the send queue, and SES's delivery events (events.tf), whose records it
# tells apart by their queue (DELIVERY_EVENTS_QUEUE_ARN).
locals {
  worker_event_sources = {
    sends = {
      queue_arn = module.sends.arn
      # Derived from send_rate_per_second when it is set (locals.tf worker_concurrency), else
      # var.worker_max_concurrency.
      maximum_concurrency = local.worker_concurrency
    }
    delivery-events = {
      queue_arn           = module.ses_events.arn
      maximum_concurrency = var.worker_max_concurrency
    }
  }
}

resource "aws_lambda_event_source_mapping" "worker" {
  for_each = local.worker_event_sources

  event_source_arn = each.value.queue_arn
  function_name    = module.worker.arn

  # campaign.limits.WORKER_BATCH_SIZE (locals.tf); the window (at least a second: Lambda requires one for
  # batches over 10) fills batches during an ingest burst.
  batch_size                         = local.worker_batch_size
  maximum_batching_window_in_seconds = var.worker_batching_window_seconds
  # The worker returns {"batchItemFailures": [...]}: only failed messages come back.
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = each.value.maximum_concurrency
  }

  depends_on = [module.worker]
}

moved {
  from = aws_lambda_event_source_mapping.worker
  to   = aws_lambda_event_source_mapping.worker["sends"]
}

moved {
  from = aws_lambda_event_source_mapping.worker_events
  to   = aws_lambda_event_source_mapping.worker["delivery-events"]
}
