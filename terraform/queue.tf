################################################################################
# Send queue, dead-letter queue and redrive (campaign/aws/queue_spec.py declares the same settings)
################################################################################

module "sends" {
  source = "./modules/queue_with_dlq"

  name = "${local.name}-sends"
  # AWS: at least six times the function timeout, so messages stay hidden while the event source
  # retries a throttled or failed invocation instead of reappearing mid-flight.
  visibility_timeout_seconds    = 6 * local.worker_timeout_seconds
  message_retention_seconds     = local.queue_retention_seconds
  dlq_message_retention_seconds = local.dlq_retention_seconds
  max_receive_count             = var.max_receive_count
  # Only the send queue may dead-letter into the DLQ.
  dlq_only_for_this_queue = true
}

# Where the queues were before modules/queue_with_dlq: Terraform moves them, nothing is replaced.
moved {
  from = aws_sqs_queue.this
  to   = module.sends.aws_sqs_queue.this
}

moved {
  from = aws_sqs_queue.dlq
  to   = module.sends.aws_sqs_queue.dlq
}

moved {
  from = aws_sqs_queue_redrive_allow_policy.dlq
  to   = module.sends.aws_sqs_queue_redrive_allow_policy.dlq[0]
}
