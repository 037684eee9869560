################################################################################
# Ingestor Lambda: FastAPI + Strawberry behind Mangum (app/handler.py), invoked by the HTTP API
################################################################################

resource "aws_cloudwatch_log_group" "ingestor" {
  #checkov:skip=CKV_AWS_158:Logs hold request metadata and are encrypted by CloudWatch's own key; a CMK per stage is not worth its cost here.
  name              = "/aws/lambda/${local.name}-ingestor"
  retention_in_days = local.cfg.log_retention_days
}

resource "aws_lambda_function" "ingestor" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously by API Gateway, which returns the error to the caller; a DLQ only applies to asynchronous invokes.
  #checkov:skip=CKV_AWS_117:Talks only to regional AWS APIs (DynamoDB, SQS); a VPC would add NAT or endpoint costs and cold-start latency for no isolation gain.
  #checkov:skip=CKV_AWS_173:The environment holds resource names and ARNs, no secrets (the API key is read from Secrets Manager); Lambda encrypts it at rest with its own key.
  #checkov:skip=CKV_AWS_272:Packages are built and deployed by our own pipeline from the repository; code signing is not set up.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the HTTP API stage throttling (locals.tf stage_config); reserving concurrency would also take it from the account pool.
  function_name = "${local.name}-ingestor"
  description   = "CSV upload, GraphQL status API (FastAPI + Strawberry via Mangum)"
  role          = aws_iam_role.ingestor.arn

  filename         = var.ingestor_zip
  source_code_hash = filebase64sha256(var.ingestor_zip)
  handler          = "app.handler.handler"
  runtime          = "python3.12"
  architectures    = ["arm64"]

  # Sizes and the 29 s timeout are explained in locals.tf.
  memory_size = local.ingestor_memory_mb
  timeout     = local.ingestor_timeout_seconds

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.ingestor.name
  }

  environment {
    variables = {
      # campaign.config.api_settings(). The API key is read from the secret (app/auth.py); API_KEY,
      # the key itself, is for the local stack only and is never set here.
      TABLE_NAME            = aws_dynamodb_table.this.name
      STAGE                 = local.stage
      QUEUE_URL             = aws_sqs_queue.this.url
      DLQ_URL               = aws_sqs_queue.dlq.url
      ENQUEUE_DELAY_SECONDS = tostring(var.enqueue_delay_seconds)
      API_KEY_SECRET_ARN    = aws_secretsmanager_secret.api_key.arn
      # Checks the tokens of POST /unsubscribe (the worker signs them with the same key).
      UNSUBSCRIBE_KEY_SECRET_ARN = aws_secretsmanager_secret.unsubscribe_key.arn
      CORS_ALLOW_ORIGINS         = join(",", var.cors_allow_origins)
      # POST /uploads signs PUTs into it (uploads.tf).
      UPLOAD_BUCKET = aws_s3_bucket.uploads.bucket
      # Days a message key blocks a second send of the same message, and days rows, bodies and
      # batches are kept before their time to live (variables.tf).
      DEDUPE_WINDOW_DAYS = tostring(var.dedupe_window_days)
      RETENTION_DAYS     = tostring(var.retention_days)
      # Powertools Logger, Metrics and Tracer (campaign/observability.py)
      POWERTOOLS_SERVICE_NAME      = local.api_service
      POWERTOOLS_LOG_LEVEL         = local.cfg.log_level
      POWERTOOLS_METRICS_NAMESPACE = local.metrics_namespace
    }
  }

  depends_on = [aws_iam_role_policy.ingestor]
}
