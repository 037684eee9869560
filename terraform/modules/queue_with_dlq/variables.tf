variable "name" {
  description = "The queue's name; its dead-letter queue is named \"<name>-dlq\"."
  type        = string
}

variable "visibility_timeout_seconds" {
  description = "How long a received message stays hidden from other consumers."
  type        = number
}

variable "message_retention_seconds" {
  description = "How long the queue keeps a message."
  type        = number
}

variable "dlq_message_retention_seconds" {
  description = "How long the dead-letter queue keeps a message."
  type        = number
}

variable "max_receive_count" {
  description = "Receives after which a message moves to the dead-letter queue."
  type        = number
}

variable "dlq_only_for_this_queue" {
  description = "Whether the dead-letter queue gets a redrive allow policy admitting dead letters from this queue only (SQS allows every queue of the account otherwise)."
  type        = bool
}
