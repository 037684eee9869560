################################################################################
# One Lambda function of the stack with what each of them has: its own log group, its own execution role
# whose one inline policy allows the calls its code makes (the caller's document) plus logging to that
# log group and X-Ray, active tracing, and the python3.12/arm64 zip that scripts/package_lambdas.py builds.
################################################################################

locals {
  function_name = "${var.name_prefix}-${var.name}"
}

resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_158:Logs hold ids, counts and outcomes and are encrypted by CloudWatch's own key; a CMK per stage is not worth its cost here.
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume" {
  statement {
    sid     = "LambdaAssumesRole"
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "this" {
  name               = local.function_name
  description        = var.role_description
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

# The caller's statements first, then what every function's runtime needs.
data "aws_iam_policy_document" "this" {
  source_policy_documents = [var.policy_json]

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.this.arn}:*"]
  }

  # X-Ray active tracing; these actions take no resource.
  statement {
    sid       = "XRay"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "this" {
  name   = var.name
  role   = aws_iam_role.this.id
  policy = data.aws_iam_policy_document.this.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_116:No function DLQ (it only applies to asynchronous invokes): API Gateway returns the API's errors to the caller, the event source mappings set failures aside in their queue's DLQ or on-failure destination, and the streaming ingest's asynchronous events go to an on-failure destination that keeps the error (../../stream_ingest.tf).
  #checkov:skip=CKV_AWS_117:The functions talk only to regional AWS APIs and, when send_mode names smtp, the SMTP relay over TLS; a VPC would add NAT or endpoint costs and cold-start latency for no isolation gain.
  #checkov:skip=CKV_AWS_173:The environment holds resource names, ARNs and settings, no secrets (API key, unsubscribe key and SMTP login are read from Secrets Manager); Lambda encrypts it at rest with its own key.
  #checkov:skip=CKV_AWS_272:Packages are built and deployed by our own pipeline from the repository; code signing is not set up.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded where each function is invoked (HTTP API throttling, the SQS mapping's maximum_concurrency, one invocation per stream shard) or reserved by the caller (the streaming ingest); reserving it for every function would take it from the account pool.
  function_name = local.function_name
  description   = var.description
  role          = aws_iam_role.this.arn

  filename         = var.filename
  source_code_hash = filebase64sha256(var.filename)
  handler          = var.handler
  runtime          = "python3.12"
  architectures    = ["arm64"]

  memory_size                    = var.memory_size
  timeout                        = var.timeout
  reserved_concurrent_executions = var.reserved_concurrent_executions

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.this.name
  }

  environment {
    variables = var.environment_variables
  }

  # The role may log and call what it needs before the first invocation.
  depends_on = [aws_iam_role_policy.this]
}
