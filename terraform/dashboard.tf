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
  # Every provider the worker can send through (campaign.config.Provider), charted whatever send_mode
  # names, so a stage that changes its providers keeps its history on the same charts.
  dashboard_providers = ["ses", "smtp"]

  # The dashboard's rows, top to bottom; each chart in a row gets an equal share of the 24 columns.
  # Every chart is a time series in the stack's region, 6 units high.
  dashboard_rows = [
    [
      {
        title  = "Emails per minute"
        stat   = "Sum"
        period = 60
        metrics = [
          [local.metrics_namespace, "EmailsSent", "service", local.worker_service, { id = "sent", label = "sent" }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "permanent", { id = "permanent", label = "failed (permanent)" }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "transient", { id = "transient", label = "failed (transient, retried)" }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "unknown_outcome", { id = "unknown", label = "failed (outcome unknown)" }],
        ]
      },
      {
        title  = "Send error rate (%)"
        period = 300
        metrics = [
          [{ expression = "100 * (p + t + u) / (s + p + t + u)", id = "rate", label = "error rate %" }],
          [local.metrics_namespace, "EmailsSent", "service", local.worker_service, { id = "s", stat = "Sum", visible = false }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "permanent", { id = "p", stat = "Sum", visible = false }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "transient", { id = "t", stat = "Sum", visible = false }],
          [local.metrics_namespace, "EmailsFailed", "service", local.worker_service, "kind", "unknown_outcome", { id = "u", stat = "Sum", visible = false }],
        ]
      },
    ],
    [
      {
        title  = "Send queue: oldest message age (s) and DLQ depth"
        period = 60
        metrics = [
          ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", module.sends.name, { stat = "Maximum", label = "oldest message age" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", module.sends.dlq_name, { stat = "Maximum", label = "DLQ depth", yAxis = "right" }],
        ]
      },
      {
        title  = "SES latency (ms)"
        period = 60
        metrics = [
          [local.metrics_namespace, "SesLatency", "service", local.worker_service, { stat = "p50", label = "p50" }],
          [local.metrics_namespace, "SesLatency", "service", local.worker_service, { stat = "p99", label = "p99" }],
        ]
      },
      {
        title  = "Uploads: rows accepted / skipped, worker errors"
        stat   = "Sum"
        period = 300
        metrics = [
          [local.metrics_namespace, "RowsAccepted", "service", local.api_service, { label = "rows accepted" }],
          [local.metrics_namespace, "RowsNotEnqueued", "service", local.api_service, { label = "rows not enqueued" }],
          ["AWS/Lambda", "Errors", "FunctionName", module.worker.function_name, { label = "worker errors", yAxis = "right" }],
          ["AWS/Lambda", "Throttles", "FunctionName", module.worker.function_name, { label = "worker throttles", yAxis = "right" }],
        ]
      },
    ],
    [
      {
        title  = "Large uploads (S3 streaming ingest): rows, errors, failed events"
        stat   = "Sum"
        period = 300
        metrics = [
          [local.metrics_namespace, "RowsAccepted", "service", local.stream_ingest_service, { label = "rows accepted" }],
          [local.metrics_namespace, "RowsNotEnqueued", "service", local.stream_ingest_service, { label = "rows not enqueued" }],
          ["AWS/Lambda", "Errors", "FunctionName", module.stream_ingest.function_name, { label = "ingest errors", yAxis = "right" }],
          ["AWS/Lambda", "Throttles", "FunctionName", module.stream_ingest.function_name, { label = "ingest throttles (queued)", yAxis = "right" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.stream_ingest_failures.name, { stat = "Maximum", label = "failed events", yAxis = "right" }],
        ]
      },
      {
        title  = "Batch counts (stream consumer): lag (ms), errors, failed deliveries"
        period = 300
        metrics = [
          ["AWS/Lambda", "IteratorAge", "FunctionName", module.counts.function_name, { stat = "Maximum", label = "counts lag (ms)" }],
          ["AWS/Lambda", "Errors", "FunctionName", module.counts.function_name, { stat = "Sum", label = "consumer errors", yAxis = "right" }],
          ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", aws_sqs_queue.counts_failures.name, { stat = "Maximum", label = "failed deliveries", yAxis = "right" }],
        ]
      },
    ],
    [
      # The account's rates as SES publishes them (fractions), with the alarms' thresholds (alarms.tf).
      {
        title  = "SES reputation (account): bounce rate, complaint rate (right); 0.04 = 4%"
        stat   = "Maximum"
        period = local.ses_reputation_period
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
      },
      # The rate the fleet achieved: EmailsSent per second of each period (metric math), against the
      # configured cap when there is one (the SES account's MaxSendRate otherwise: GetAccount).
      {
        title  = "Achieved send rate (emails/s)"
        period = 60
        metrics = [
          [{ expression = "sent / PERIOD(sent)", id = "rate", label = "emails/s" }],
          [local.metrics_namespace, "EmailsSent", "service", local.worker_service, { id = "sent", stat = "Sum", visible = false }],
        ]
        annotations = {
          horizontal = var.send_rate_per_second == null ? [] : [{ label = "send_rate_per_second", value = var.send_rate_per_second }]
        }
      },
    ],
    [
      # How long sends waited for a token of the shared bucket (the table's item PACE#send).
      {
        title  = "Send token wait (ms)"
        period = 60
        metrics = [
          [local.metrics_namespace, "SendTokenWait", "service", local.worker_service, { stat = "p50", label = "p50" }],
          [local.metrics_namespace, "SendTokenWait", "service", local.worker_service, { stat = "p99", label = "p99" }],
          [local.metrics_namespace, "SendTokenWait", "service", local.worker_service, { stat = "Maximum", label = "max" }],
        ]
      },
      # Messages put back on the send queue, delayed, because no token was free within the invocation.
      {
        title  = "Sends deferred (back on the queue, delayed)"
        stat   = "Sum"
        period = 60
        metrics = [
          [local.metrics_namespace, "SendsDeferred", "service", local.worker_service, { label = "deferred" }],
        ]
      },
      {
        title   = "Emails sent by provider"
        stat    = "Sum"
        period  = 60
        metrics = [for provider in local.dashboard_providers : [local.metrics_namespace, "EmailsSentVia", "service", local.worker_service, "provider", provider, { label = provider }]]
      },
    ],
    [
      # A provider that certainly refused a message handed it to the next one.
      {
        title   = "Sends failed over, by the provider that refused them"
        stat    = "Sum"
        period  = 60
        metrics = [for provider in local.dashboard_providers : [local.metrics_namespace, "SendsFailedOver", "service", local.worker_service, "provider", provider, { label = "from ${provider}" }]]
      },
      # Each opening is also an alarm (alarms.tf breaker_opened).
      {
        title   = "Circuit breakers opened, by provider"
        stat    = "Sum"
        period  = local.breaker_alarm_period
        metrics = [for provider in local.dashboard_providers : [local.metrics_namespace, "BreakerOpened", "service", local.worker_service, "provider", provider, { label = provider }]]
      },
    ],
  ]

  dashboard_widgets = flatten([for row_number, row in local.dashboard_rows : [for column, chart in row : {
    type       = "metric"
    x          = column * 24 / length(row)
    y          = row_number * 6
    width      = 24 / length(row)
    height     = 6
    properties = merge({ region = var.aws_region, view = "timeSeries" }, chart)
  }]])
}


resource "aws_cloudwatch_dashboard" "this" {
  dashboard_name = local.name
  dashboard_body = jsonencode({ widgets = local.dashboard_widgets })
}
