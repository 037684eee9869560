################################################################################
# Alarms -> SNS topic (optional email subscription)
################################################################################

resource "aws_sns_topic" "alarms" {
  #checkov:skip=CKV_AWS_26:CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and the messages are alarm states only.
  name = "${local.name}-alarms"
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarm_actions = [aws_sns_topic.alarms.arn]
}

# A message in the DLQ is a send that ended in ERROR after max_receive_count tries, or a malformed body.
resource "aws_cloudwatch_metric_alarm" "dlq_not_empty" {
  alarm_name          = "${local.name}-dlq-not-empty"
  alarm_description   = "Messages reached ${aws_sqs_queue.dlq.name}: look at the ERROR rows and the worker logs."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Record failures are reported per message and do not count here: an Error is the whole invocation
# failing (a bug, a timeout, or a settings error at cold start).
resource "aws_cloudwatch_metric_alarm" "worker_errors" {
  alarm_name          = "${local.name}-worker-errors"
  alarm_description   = "The worker Lambda failed whole invocations."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.worker.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "worker_throttles" {
  alarm_name          = "${local.name}-worker-throttles"
  alarm_description   = "The worker Lambda was throttled (account concurrency exhausted): messages wait and use up receives."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = aws_lambda_function.worker.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${local.name}-api-5xx"
  alarm_description   = "The HTTP API answered 5xx (Lambda errors or timeouts, integration failures)."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = aws_apigatewayv2_api.this.id, Stage = aws_apigatewayv2_stage.default.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.api_5xx_alarm_threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Sends are falling behind: the worker is failing, capped too low, or SES is throttling.
resource "aws_cloudwatch_metric_alarm" "queue_oldest_message" {
  alarm_name          = "${local.name}-queue-oldest-message"
  alarm_description   = "The oldest message on ${aws_sqs_queue.this.name} is older than ${var.queue_age_alarm_seconds} s."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.this.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.queue_age_alarm_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# An upload event Lambda gave up on (every retry failed, or it waited too long): its upload stays
# INGESTING or AWAITING_UPLOAD until someone acts (GET /uploads/{id}, then re-PUT the file).
resource "aws_cloudwatch_metric_alarm" "stream_ingest_failed_events" {
  alarm_name          = "${local.name}-stream-ingest-failed-events"
  alarm_description   = "Upload events reached ${aws_sqs_queue.stream_ingest_failures.name}: read the message (it carries the error) and the stream-ingest logs."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.stream_ingest_failures.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Any failed attempt, including ones a retry then completes: an early warning before the alarm above.
resource "aws_cloudwatch_metric_alarm" "stream_ingest_errors" {
  alarm_name          = "${local.name}-stream-ingest-errors"
  alarm_description   = "The streaming-ingest Lambda failed invocations (Lambda retries them; see its logs)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.stream_ingest.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# A delivery of stream records the counts consumer gave up on (every retry failed): the rows are right,
# but the status counts of their batches are off, and so is what listings plan their pages from.
resource "aws_cloudwatch_metric_alarm" "counts_failed_deliveries" {
  alarm_name          = "${local.name}-counts-failed-deliveries"
  alarm_description   = "Stream deliveries reached ${aws_sqs_queue.counts_failures.name}: the message names the shard and sequence numbers; read the counts logs. Those batches' counts are off."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.counts_failures.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = 0
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# Counts are falling behind the rows: the consumer is failing and retrying (before the alarm above), or
# throttled. IteratorAge is how old the last record of a delivery was when it reached the function (ms).
resource "aws_cloudwatch_metric_alarm" "counts_iterator_age" {
  alarm_name          = "${local.name}-counts-iterator-age"
  alarm_description   = "Batch counts lag the table's changes by more than ${var.counts_lag_alarm_seconds} s: look at the counts logs and errors."
  namespace           = "AWS/Lambda"
  metric_name         = "IteratorAge"
  dimensions          = { FunctionName = aws_lambda_function.counts.function_name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.counts_lag_alarm_seconds * 1000
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
