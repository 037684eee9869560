################################################################################
# CloudWatch dashboard: sends per minute, error rate, SES latency, DLQ depth, queue age, large uploads,
# batch counts, the account's SES bounce and complaint rates, the achieved send rate and the pace's
# token waits and deferrals, sends, failovers and breaker openings by provider.
# Metric names come from campaign/observability.py (tests/infra/test_dashboard.py holds them together).
################################################################################

locals {
  worker_service        = "campaign-worker"
  api_service           = "campaign-api"
  stream_ingest_service = "campaign-stream-ingest"
  counts_service        = "campaign-counts"

  dashboard_widgets = [
    {
      type = "metric", x = 0, y = 0, width = 12, height = 6
      properties = {
        title  = "Emails per minute"
        region = var.aws_region
        stat   = "Sum"
        period = 60
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "EmailsSent", "service", local.worker_service, { id = "sent", label = "sent" }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "permanent", { id = "permanent", label = "failed (permanent)" }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "transient", { id = "transient", label = "failed (transient, retried)" }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "unknown_outcome", { id = "unknown", label = "failed (outcome unknown)" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 0, width = 12, height = 6
      properties = {
        title  = "Send error rate (%)"
        region = var.aws_region
        period = 300
        view   = "timeSeries"
        metrics = [
          [{ expression = "100 * (p + t + u) / (s + p + t + u)", id = "rate", label = "error rate %" }],
          [local.metrics_namespace, "EmailsSent", "service", local.worker_service, { id = "s", stat = "Sum", visible = false }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "permanent", { id = "p", stat = "Sum", visible = false }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "transient", { id = "t", stat = "Sum", visible = false }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "unknown_outcome", { id = "u", stat = "Sum", visible = false }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 6, width = 8, height = 6
      properties = {
        title  = "Send queue: oldest message age (s) and DLQ depth"
        region = var.aws_region
        period = 60
        view   = "timeSeries"
        metrics = [
          ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", module.sends.name, { stat = "Maximum", label = "oldest message age" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", module.sends.dlq_name, { stat = "Maximum", label = "DLQ depth", yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 8, y = 6, width = 8, height = 6
      properties = {
        title  = "SES latency (ms)"
        region = var.aws_region
        period = 60
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "SesLatency", "service", local.worker_service, { stat = "p50", label = "p50" }],
          [local.metrics_namespace, "SesLatency", "service", local.worker_service, { stat = "p99", label = "p99" }],
        ]
      }
    },
    {
      type = "metric", x = 16, y = 6, width = 8, height = 6
      properties = {
        title  = "Uploads: rows accepted / skipped, worker errors"
        region = var.aws_region
        stat   = "Sum"
        period = 300
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "RowsAccepted", "service", local.api_service, { label = "rows accepted" }],
          [local.metrics_namespace, "RowsNotEnqueued", "service", local.api_service, { label = "rows not enqueued" }],
          ["AWS/Lambda", "Errors", "FunctionName", module.worker.function_name, { label = "worker errors", yAxis = "right" }],
          ["AWS/Lambda", "Throttles", "FunctionName", module.worker.function_name, { label = "worker throttles", yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 0, y = 12, width = 12, height = 6
      properties = {
        title  = "Large uploads (S3 streaming ingest): rows, errors, failed events"
        region = var.aws_region
        stat   = "Sum"
        period = 300
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "RowsAccepted", "service", local.stream_ingest_service, { label = "rows accepted" }],
          [local.metrics_namespace, "RowsNotEnqueued", "service", local.stream_ingest_service, { label = "rows not enqueued" }],
          ["AWS/Lambda", "Errors", "FunctionName", module.stream_ingest.function_name, { label = "ingest errors", yAxis = "right" }],
          ["AWS/Lambda", "Throttles", "FunctionName", module.stream_ingest.function_name, { label = "ingest throttles (queued)", yAxis = "right" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.stream_ingest_failures.name, { stat = "Maximum", label = "failed events", yAxis = "right" }],
        ]
      }
    },
    {
      type = "metric", x = 12, y = 12, width = 12, height = 6
      properties = {
        title  = "Batch counts (stream consumer): lag (ms), errors, failed deliveries"
        region = var.aws_region
        period = 300
        view   = "timeSeries"
        metrics = [
          ["AWS/Lambda", "IteratorAge", "FunctionName", module.counts.function_name, { stat = "Maximum", label = "counts lag (ms)" }],
          ["AWS/Lambda", "Errors", "FunctionName", module.counts.function_name, { stat = "Sum", label = "consumer errors", yAxis = "right" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.counts_failures.name, { stat = "Maximum", label = "failed deliveries", yAxis = "right" }],
        ]
      }
    },
    {
      # The account's rates as SES publishes them (fractions), with the alarms' thresholds (alarms.tf).
      type = "metric", x = 0, y = 18, width = 12, height = 6
      properties = {
        title  = "SES reputation (account): bounce rate, complaint rate (right); 0.04 = 4%"
        region = var.aws_region
        stat   = "Maximum"
        period = local.ses_reputation_period
        view   = "timeSeries"
        metrics = [
          ["AWS/SES", "Reputation.BounceRate", { label = "bounce rate" }],
          ["AWS/SES", "Reputation.ComplaintRate", { label = "complaint rate", yAxis = "right" }],
        ]
        annotations = {
          horizontal = [
            { label = "bounce alarm", value = var.ses_bounce_rate_alarm_threshold },
            { label = "complaint alarm", value = var.ses_complaint_rate_alarm_threshold, yAxis = "right" },
          ]
        }
      }
    },
    {
      # The rate the fleet achieved: EmailsSent per second of each period (metric math), against the
      # configured cap when there is one (the SES account's MaxSendRate otherwise: GetAccount).
      type = "metric", x = 12, y = 18, width = 12, height = 6
      properties = {
        title  = "Achieved send rate (emails/s)"
        region = var.aws_region
        period = 60
        view   = "timeSeries"
        metrics = [
          [{ expression = "sent / PERIOD(sent)", id = "rate", label = "emails/s" }],
          [local.metrics_namespace, "EmailsSent", "service", local.worker_service, { id = "sent", stat = "Sum", visible = false }],
        ]
        annotations = {
          horizontal = var.send_rate_per_second == null ? [] : [{ label = "send_rate_per_second", value = var.send_rate_per_second }]
        }
      }
    },
    {
      # How long sends waited for a token of the shared bucket (the table's item PACE#send).
      type = "metric", x = 0, y = 24, width = 8, height = 6
      properties = {
        title  = "Send token wait (ms)"
        region = var.aws_region
        period = 60
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "SendTokenWait", "service", local.worker_service, { stat = "p50", label = "p50" }],
          [local.metrics_namespace, "SendTokenWait", "service", local.worker_service, { stat = "p99", label = "p99" }],
          [local.metrics_namespace, "SendTokenWait", "service", local.worker_service, { stat = "Maximum", label = "max" }],
        ]
      }
    },
    {
      # Messages put back on the send queue, delayed, because no token was free within the invocation.
      type = "metric", x = 8, y = 24, width = 8, height = 6
      properties = {
        title  = "Sends deferred (back on the queue, delayed)"
        region = var.aws_region
        stat   = "Sum"
        period = 60
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "SendsDeferred", "service", local.worker_service, { label = "deferred" }],
        ]
      }
    },
    {
      type = "metric", x = 16, y = 24, width = 8, height = 6
      properties = {
        title  = "Emails sent by provider"
        region = var.aws_region
        stat   = "Sum"
        period = 60
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "EmailsSentVia", "service", local.worker_service, "provider", "ses", { label = "ses" }],
          [local.metrics_namespace, "EmailsSentVia", "service", local.worker_service, "provider", "smtp", { label = "smtp" }],
        ]
      }
    },
    {
      # A provider that certainly refused a message handed it to the next one.
      type = "metric", x = 0, y = 30, width = 12, height = 6
      properties = {
        title  = "Sends failed over, by the provider that refused them"
        region = var.aws_region
        stat   = "Sum"
        period = 60
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "SendsFailedOver", "service", local.worker_service, "provider", "ses", { label = "from ses" }],
          [local.metrics_namespace, "SendsFailedOver", "service", local.worker_service, "provider", "smtp", { label = "from smtp" }],
        ]
      }
    },
    {
      # Each opening is also an alarm (alarms.tf breaker_opened).
      type = "metric", x = 12, y = 30, width = 12, height = 6
      properties = {
        title  = "Circuit breakers opened, by provider"
        region = var.aws_region
        stat   = "Sum"
        period = local.breaker_alarm_period
        view   = "timeSeries"
        metrics = [
          [local.metrics_namespace, "BreakerOpened", "service", local.worker_service, "provider", "ses", { label = "ses" }],
          [local.metrics_namespace, "BreakerOpened", "service", local.worker_service, "provider", "smtp", { label = "smtp" }],
        ]
      }
    },
  ]
}


resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
