output "api_url" {
  description = "Base URL of the HTTP API ($default stage), e.g. for scripts/demo.sh."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "table_name" {
  description = "DynamoDB status table."
  value       = aws_dynamodb_table.this.name
}

output "queue_name" {
  description = "SQS send queue."
  value       = module.sends.name
}

output "queue_url" {
  description = "SQS send queue URL."
  value       = module.sends.url
}

output "dlq_name" {
  description = "SQS dead-letter queue of the send queue."
  value       = module.sends.dlq_name
}

output "dlq_url" {
  description = "SQS dead-letter queue URL: DLQ_URL for scripts/redrive_dlq.py."
  value       = module.sends.dlq_url
}

output "dedupe_window_days" {
  description = "Deployed deduplication window in days: DEDUPE_WINDOW_DAYS for the re-drive scripts (scripts/redrive_*.py), which read it as the functions do."
  value       = var.dedupe_window_days
}

output "retention_days" {
  description = "Deployed retention in days: RETENTION_DAYS for the re-drive scripts (scripts/redrive_*.py), so that the rows they add expire with their batch."
  value       = var.retention_days
}

output "ingestor_function_name" {
  description = "Ingestor (API) Lambda function."
  value       = module.ingestor.function_name
}

output "worker_function_name" {
  description = "Worker Lambda function."
  value       = module.worker.function_name
}

output "stream_ingest_function_name" {
  description = "Streaming-ingest Lambda function (large uploads from the upload bucket)."
  value       = module.stream_ingest.function_name
}

output "counts_function_name" {
  description = "Stream-consumer Lambda function that keeps each batch's status counts."
  value       = module.counts.function_name
}

output "upload_bucket_name" {
  description = "S3 bucket that POST /uploads signs PUTs into (objects uploads/<batchId>.csv, expired by lifecycle)."
  value       = aws_s3_bucket.uploads.bucket
}

output "stream_ingest_failures_queue_name" {
  description = "SQS queue holding upload events the streaming ingest failed on after Lambda's retries."
  value       = aws_sqs_queue.stream_ingest_failures.name
}

output "counts_failures_queue_name" {
  description = "SQS queue describing stream deliveries the counts consumer failed on after the mapping's retries."
  value       = aws_sqs_queue.counts_failures.name
}

output "sender_address" {
  description = "From address of campaign emails."
  value       = local.sender_address
}

output "ses_dkim_records" {
  description = "CNAME records to publish when ses_identity is a domain (empty for an address identity)."
  value = [
    for token in try(aws_sesv2_email_identity.this.dkim_signing_attributes[0].tokens, []) : {
      name  = "${token}._domainkey.${var.ses_identity}"
      type  = "CNAME"
      value = "${token}.dkim.amazonses.com"
    }
  ]
}

output "api_key_secret_arn" {
  description = "Secrets Manager secret holding the API key (read the value with aws secretsmanager get-secret-value)."
  value       = aws_secretsmanager_secret.api_key.arn
}

output "smtp_secret_arn" {
  description = "Secrets Manager secret the operator fills with the SMTP relay's login, JSON {\"username\": ..., \"password\": ...} (aws secretsmanager put-secret-value); null unless send_mode names smtp."
  value       = one(aws_secretsmanager_secret.smtp[*].arn)
}

output "smtp_secret_name" {
  description = "Name of the SMTP relay's secret (see smtp_secret_arn); null unless send_mode names smtp."
  value       = one(aws_secretsmanager_secret.smtp[*].name)
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms publish to."
  value       = aws_sns_topic.alarms.arn
}
