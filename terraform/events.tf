################################################################################
# SES delivery events: the configuration set publishes DELIVERY, BOUNCE, COMPLAINT, REJECT and
# DELIVERY_DELAY to an SNS topic, which delivers them raw to a queue the worker consumes as a second
# event source (campaign/services/delivery_events.py). SNS rather than EventBridge: SES publishes to
# SNS directly at a known price ($0.50 per million, deliveries to SQS free) with no rule to keep in step
# (docs/DESIGN.md, "Delivery events").
################################################################################

resource "aws_sns_topic" "ses_events" {
  #checkov:skip=CKV_AWS_26:SES can only publish to an encrypted topic through a customer managed key whose policy lets SES use it; the events carry addresses and message ids, no content; the queue they land in is encrypted.
  name = "${local.name}-ses-events"
}

# Who may deliver into each step of the pipeline: SES publishes to the topic (for this account only), the
# topic sends to the queue (this topic only). One statement each, its service principal and its condition.
locals {
  ses_events_deliveries = {
    topic = {
      sid       = "SesPublishesItsEvents"
      action    = "sns:Publish"
      resource  = aws_sns_topic.ses_events.arn
      service   = "ses.amazonaws.com"
      condition = { test = "StringEquals", variable = "AWS:SourceAccount", values = [local.account_id] }
    }
    queue = {
      sid       = "TopicDeliversEvents"
      action    = "sqs:SendMessage"
      resource  = module.ses_events.arn
      service   = "sns.amazonaws.com"
      condition = { test = "ArnEquals", variable = "aws:SourceArn", values = [aws_sns_topic.ses_events.arn] }
    }
  }
}

data "aws_iam_policy_document" "ses_events_delivery" {
  for_each = local.ses_events_deliveries

  statement {
    sid       = each.value.sid
    actions   = [each.value.action]
    resources = [each.value.resource]

    principals {
      type        = "Service"
      identifiers = [each.value.service]
    }

    condition {
      test     = each.value.condition.test
      variable = each.value.condition.variable
      values   = each.value.condition.values
    }
  }
}

resource "aws_sns_topic_policy" "ses_events" {
  arn    = aws_sns_topic.ses_events.arn
  policy = data.aws_iam_policy_document.ses_events_delivery["topic"].json
}

resource "aws_sesv2_configuration_set_event_destination" "events" {
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
  event_destination_name = "delivery-events"

  event_destination {
    enabled              = true
    matching_event_types = ["DELIVERY", "BOUNCE", "COMPLAINT", "REJECT", "DELIVERY_DELAY"]

    sns_destination {
      topic_arn = aws_sns_topic.ses_events.arn
    }
  }

  depends_on = [aws_sns_topic_policy.ses_events]
}

module "ses_events" {
  source = "./modules/queue_with_dlq"

  name                          = "${local.name}-ses-events"
  visibility_timeout_seconds    = 6 * local.worker_timeout_seconds
  message_retention_seconds     = local.queue_retention_seconds
  dlq_message_retention_seconds = local.dlq_retention_seconds
  # An event the worker cannot record after this many tries (the table unreachable) waits in the DLQ;
  # an event it can never use (unknown send, junk) is dropped by the worker, not retried.
  max_receive_count       = var.max_receive_count
  dlq_only_for_this_queue = false
}

moved {
  from = aws_sqs_queue.events
  to   = module.ses_events.aws_sqs_queue.this
}

moved {
  from = aws_sqs_queue.events_dlq
  to   = module.ses_events.aws_sqs_queue.dlq
}

resource "aws_sqs_queue_policy" "events" {
  queue_url = module.ses_events.url
  policy    = data.aws_iam_policy_document.ses_events_delivery["queue"].json
}

resource "aws_sns_topic_subscription" "events" {
  topic_arn = aws_sns_topic.ses_events.arn
  protocol  = "sqs"
  endpoint  = module.ses_events.arn
  # The SES event JSON itself, not wrapped in an SNS notification.
  raw_message_delivery = true
}

# The worker consumes the queue through its second event source mapping (worker.tf).
