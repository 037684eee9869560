output "arn" {
  description = "The queue's ARN."
  value       = aws_sqs_queue.this.arn
}

output "url" {
  description = "The queue's URL."
  value       = aws_sqs_queue.this.url
}

output "name" {
  description = "The queue's name."
  value       = aws_sqs_queue.this.name
}

output "dlq_arn" {
  description = "The dead-letter queue's ARN."
  value       = aws_sqs_queue.dlq.arn
}

output "dlq_url" {
  description = "The dead-letter queue's URL."
  value       = aws_sqs_queue.dlq.url
}

output "dlq_name" {
  description = "The dead-letter queue's name."
  value       = aws_sqs_queue.dlq.name
}
