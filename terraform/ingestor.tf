################################################################################
# Ingestor Lambda: FastAPI + Strawberry behind Mangum (app/handler.py), invoked by the HTTP API
################################################################################

module "ingestor" {
  source = "./modules/lambda_function"

  name_prefix = local.name
  name        = "ingestor"
  description = "CSV upload, GraphQL status API (FastAPI + Strawberry via Mangum)"

  filename = var.ingestor_zip
  handler  = "app.handler.handler"
  # Sizes and the 29 s timeout are explained in locals.tf.
  memory_size = local.ingestor_memory_mb
  timeout     = local.ingestor_timeout_seconds

  role_description   = "Execution role of the csv-campaign ${local.stage} ingestor (API) Lambda"
  policy_json        = data.aws_iam_policy_document.ingestor.json
  log_retention_days = local.cfg.log_retention_days

  environment_variables = {
    # campaign.config.api_settings(). The API key is read from the secret (app/auth.py); API_KEY,
    # the key itself, is for the local stack only and is never set here.
    TABLE_NAME            = aws_dynamodb_table.this.name
    STAGE                 = local.stage
    QUEUE_URL             = module.sends.url
    DLQ_URL               = module.sends.dlq_url
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

# Where these resources were before the module: Terraform moves them, nothing is replaced.
moved {
  from = aws_cloudwatch_log_group.ingestor
  to   = module.ingestor.aws_cloudwatch_log_group.this
}

moved {
  from = aws_iam_role.ingestor
  to   = module.ingestor.aws_iam_role.this
}

moved {
  from = aws_iam_role_policy.ingestor
  to   = module.ingestor.aws_iam_role_policy.this
}

moved {
  from = aws_lambda_function.ingestor
  to   = module.ingestor.aws_lambda_function.this
}
