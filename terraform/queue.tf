################################################################################
# Send queue, dead-letter queue and redrive (campaign/aws/queue_spec.py declares the same settings)
################################################################################

resource "aws_sqs_queue" "dlq" {
  name                      = "${local.name}-sends-dlq"
  message_retention_seconds = local.dlq_retention_seconds
  sqs_managed_sse_enabled   = true
}

resource "aws_sqs_queue" "this" {
  name = "${local.name}-sends"
  # AWS: at least six times the function timeout, so messages stay hidden while the event source
  # retries a throttled or failed invocation instead of reappearing mid-flight.
  visibility_timeout_seconds = 6 * local.worker_timeout_seconds
  message_retention_seconds  = local.queue_retention_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq.arn
    maxReceiveCount     = var.max_receive_count
  })
}

# Only the send queue may dead-letter into the DLQ.
resource "aws_sqs_queue_redrive_allow_policy" "dlq" {
  queue_url = aws_sqs_queue.dlq.id

  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.this.arn]
  })
}
