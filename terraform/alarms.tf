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

################################################################################
# Every alarm: one definition per entry of local.alarms, one resource for all of them. An entry names its
# metric and threshold; unless it says otherwise it fires on a value over the threshold in a 5-minute
# period, an idle metric (no data) is OK, and it notifies the alarm topic both ways.
################################################################################

locals {
  alarm_defaults = {
    dimensions          = null
    period              = 300
    comparison_operator = "GreaterThanThreshold"
  }

  # Keyed by the alarm's name after csv-campaign-<stage>-.
  alarm_definitions = merge(
    {
      # A message in the DLQ is a send that ended in ERROR after max_receive_count tries, or a malformed body.
      dlq-not-empty = {
        description = "Messages reached ${module.sends.dlq_name}: look at the ERROR rows and the worker logs."
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = module.sends.dlq_name }
        statistic   = "Maximum"
        threshold   = 0
      }
      # Record failures are reported per message and do not count here: an Error is the whole invocation
      # failing (a bug, a timeout, or a settings error at cold start).
      worker-errors = {
        description = "The worker Lambda failed whole invocations."
        namespace   = "AWS/Lambda"
        metric_name = "Errors"
        dimensions  = { FunctionName = module.worker.function_name }
        statistic   = "Sum"
        threshold   = 0
      }
      worker-throttles = {
        description = "The worker Lambda was throttled (account concurrency exhausted): messages wait and use up receives."
        namespace   = "AWS/Lambda"
        metric_name = "Throttles"
        dimensions  = { FunctionName = module.worker.function_name }
        statistic   = "Sum"
        threshold   = 0
      }
      api-5xx = {
        description = "The HTTP API answered 5xx (Lambda errors or timeouts, integration failures)."
        namespace   = "AWS/ApiGateway"
        metric_name = "5xx"
        dimensions  = { ApiId = aws_apigatewayv2_api.this.id, Stage = aws_apigatewayv2_stage.default.name }
        statistic   = "Sum"
        threshold   = var.api_5xx_alarm_threshold
      }
      # Sends are falling behind: the worker is failing, capped too low, or SES is throttling.
      queue-oldest-message = {
        description = "The oldest message on ${module.sends.name} is older than ${var.queue_age_alarm_seconds} s."
        namespace   = "AWS/SQS"
        metric_name = "ApproximateAgeOfOldestMessage"
        dimensions  = { QueueName = module.sends.name }
        statistic   = "Maximum"
        threshold   = var.queue_age_alarm_seconds
      }
      # An upload event Lambda gave up on (every retry failed, or it waited too long): its upload stays
      # INGESTING or AWAITING_UPLOAD until someone acts (GET /uploads/{id}, then re-PUT the file).
      stream-ingest-failed-events = {
        description = "Upload events reached ${aws_sqs_queue.stream_ingest_failures.name}: read the message (it carries the error) and the stream-ingest logs."
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = aws_sqs_queue.stream_ingest_failures.name }
        statistic   = "Maximum"
        threshold   = 0
      }
      # Any failed attempt, including ones a retry then completes: an early warning before the alarm above.
      stream-ingest-errors = {
        description = "The streaming-ingest Lambda failed invocations (Lambda retries them; see its logs)."
        namespace   = "AWS/Lambda"
        metric_name = "Errors"
        dimensions  = { FunctionName = module.stream_ingest.function_name }
        statistic   = "Sum"
        threshold   = 0
      }
      # A delivery of stream records the counts consumer gave up on (every retry failed): the rows are
      # right, but the status counts of their batches are off, and so is what listings plan their pages from.
      counts-failed-deliveries = {
        description = "Stream deliveries reached ${aws_sqs_queue.counts_failures.name}: the message names the shard and sequence numbers; read the counts logs. Those batches' counts are off."
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = aws_sqs_queue.counts_failures.name }
        statistic   = "Maximum"
        threshold   = 0
      }
      # Counts are falling behind the rows: the consumer is failing and retrying (before the alarm above),
      # or throttled. IteratorAge is how old the last record of a delivery was when it reached the
      # function (ms).
      counts-iterator-age = {
        description = "Batch counts lag the table's changes by more than ${var.counts_lag_alarm_seconds} s: look at the counts logs and errors."
        namespace   = "AWS/Lambda"
        metric_name = "IteratorAge"
        dimensions  = { FunctionName = module.counts.function_name }
        statistic   = "Maximum"
        threshold   = var.counts_lag_alarm_seconds * 1000
      }
      # SES events the worker could not record after every try (the table unreachable): the sends are
      # right, their delivery outcomes and any suppression from them are missing until the events are
      # moved back (SQS console: "Start DLQ redrive").
      ses-events-dlq-not-empty = {
        description = "SES events reached ${module.ses_events.dlq_name}: worker logs, then redrive them to ${module.ses_events.name}."
        namespace   = "AWS/SQS"
        metric_name = "ApproximateNumberOfMessagesVisible"
        dimensions  = { QueueName = module.ses_events.dlq_name }
        statistic   = "Maximum"
        threshold   = 0
      }
    },
    # The account's SES reputation rates, published without dimensions (below).
    { for key, alarm in local.ses_reputation_alarms : "ses-${key}" => {
      description         = alarm.description
      namespace           = "AWS/SES"
      metric_name         = alarm.metric_name
      statistic           = "Maximum"
      period              = local.ses_reputation_period
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = alarm.threshold
    } },
    # One per provider that send_mode names (below); none in a dry run.
    { for provider in local.send_providers : "breaker-opened-${provider}" => {
      description         = "The ${provider} circuit breaker opened: its sends are failing (worker logs; the provider's status page). Sends go to the next provider of send_mode, if any, until a probe succeeds."
      namespace           = local.metrics_namespace
      metric_name         = "BreakerOpened"
      dimensions          = { service = local.worker_service, provider = provider }
      statistic           = "Sum"
      period              = local.breaker_alarm_period
      comparison_operator = "GreaterThanOrEqualToThreshold"
      threshold           = 1
    } },
  )

  alarms = { for key, alarm in local.alarm_definitions : key => merge(local.alarm_defaults, alarm) }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each = local.alarms

  alarm_name          = "${local.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = each.value.namespace
  metric_name         = each.value.metric_name
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = 1
  comparison_operator = each.value.comparison_operator
  threshold           = each.value.threshold
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}

# The account's SES reputation: rates SES works out over a representative volume of the account's recent
# mail (not a fixed time window), published to CloudWatch without dimensions, as fractions (0.04 is 4%).
# They cover every configuration set, identity and stage that sends from this account and region. SES
# puts an account under review at a 5% bounce / 0.1% complaint rate and may pause its sending at 10% /
# 0.5%: these alarms fire before the review. An idle account publishes no data points, so the alarm
# stays OK ("notBreaching"); for the same reason an OK right after an ALARM may only mean that sending
# stopped: the SES console's reputation page has the current rate. SES does not document how often it
# publishes the rates: an hour-long period holds at least one data point while mail goes out, and
# Maximum fires on the first published value at or over the threshold (the rate is already smoothed
# by SES; an Average would only delay it).
locals {
  ses_reputation_period = 3600

  ses_reputation_alarms = {
    bounce-rate = {
      metric_name = "Reputation.BounceRate"
      threshold   = var.ses_bounce_rate_alarm_threshold
      description = "The account's SES bounce rate reached ${var.ses_bounce_rate_alarm_threshold} (a fraction; SES reviews the account at 0.05 and may pause its sending at 0.10): pause the campaign and find the list that bounced (README, Operations)."
    }
    complaint-rate = {
      metric_name = "Reputation.ComplaintRate"
      threshold   = var.ses_complaint_rate_alarm_threshold
      description = "The account's SES complaint rate reached ${var.ses_complaint_rate_alarm_threshold} (a fraction; SES reviews the account at 0.001 and may pause its sending at 0.005): pause the campaign and check the list's consent and the content (README, Operations)."
    }
  }
}

# A provider's circuit breaker opened (campaign/aws/breakers.py): it failed
# campaign.limits.BREAKER_FAILURES_TO_OPEN times within BREAKER_WINDOW_SECONDS, every worker now sends
# through the next provider in send_mode (or, with none left, waits), and one send probes it again
# after the cooldown.
locals {
  breaker_alarm_period = 300
}

# Where each alarm was before they shared one resource: Terraform moves them, nothing is replaced.
moved {
  from = aws_cloudwatch_metric_alarm.dlq_not_empty
  to   = aws_cloudwatch_metric_alarm.this["dlq-not-empty"]
}

moved {
  from = aws_cloudwatch_metric_alarm.worker_errors
  to   = aws_cloudwatch_metric_alarm.this["worker-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.worker_throttles
  to   = aws_cloudwatch_metric_alarm.this["worker-throttles"]
}

moved {
  from = aws_cloudwatch_metric_alarm.api_5xx
  to   = aws_cloudwatch_metric_alarm.this["api-5xx"]
}

moved {
  from = aws_cloudwatch_metric_alarm.queue_oldest_message
  to   = aws_cloudwatch_metric_alarm.this["queue-oldest-message"]
}

moved {
  from = aws_cloudwatch_metric_alarm.stream_ingest_failed_events
  to   = aws_cloudwatch_metric_alarm.this["stream-ingest-failed-events"]
}

moved {
  from = aws_cloudwatch_metric_alarm.stream_ingest_errors
  to   = aws_cloudwatch_metric_alarm.this["stream-ingest-errors"]
}

moved {
  from = aws_cloudwatch_metric_alarm.counts_failed_deliveries
  to   = aws_cloudwatch_metric_alarm.this["counts-failed-deliveries"]
}

moved {
  from = aws_cloudwatch_metric_alarm.counts_iterator_age
  to   = aws_cloudwatch_metric_alarm.this["counts-iterator-age"]
}

moved {
  from = aws_cloudwatch_metric_alarm.events_dlq_not_empty
  to   = aws_cloudwatch_metric_alarm.this["ses-events-dlq-not-empty"]
}

moved {
  from = aws_cloudwatch_metric_alarm.ses_reputation["bounce-rate"]
  to   = aws_cloudwatch_metric_alarm.this["ses-bounce-rate"]
}

moved {
  from = aws_cloudwatch_metric_alarm.ses_reputation["complaint-rate"]
  to   = aws_cloudwatch_metric_alarm.this["ses-complaint-rate"]
}

moved {
  from = aws_cloudwatch_metric_alarm.breaker_opened["ses"]
  to   = aws_cloudwatch_metric_alarm.this["breaker-opened-ses"]
}

moved {
  from = aws_cloudwatch_metric_alarm.breaker_opened["smtp"]
  to   = aws_cloudwatch_metric_alarm.this["breaker-opened-smtp"]
}
