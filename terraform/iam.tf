################################################################################
# One execution role per Lambda, each allowed only the calls its code makes, on only what it touches:
# these documents, which modules/lambda_function completes with the function's own log group and X-Ray.
# tests/infra/test_iam.py records the AWS calls of the real code paths (on moto) and holds the roles'
# policies to them.
################################################################################

# ------------------------------------------------------------------------------
# Ingestor
# ------------------------------------------------------------------------------

data "aws_iam_policy_document" "ingestor" {
  # Batch claim/lease/finish (PutItem, UpdateItem, GetItem), message keys (TransactWriteItems of
  # conditional Updates, which IAM authorizes as UpdateItem), bodies and rows (BatchWriteItem; BatchGetItem to
  # resume, and to read the bodies a listing shows), the batch's counts item (UpdateItem; GetItem for
  # its summary), the suppression list (BatchGetItem at ingest; PutItem to suppress, DeleteItem to
  # unsuppress): campaign/aws/batches.py, message_keys.py, bodies.py, send_rows.py, batch_counts.py,
  # suppressions.py.
  statement {
    sid = "StatusTableItems"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:DeleteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.this.arn]
  }

  # listEmailStatus: key-condition queries on the listing, pending and delivery indexes, and on
  # batches-newest for a listing across batches (campaign/aws/send_index.py); the suppression list's
  # pages, on suppressions-newest (campaign/aws/suppressions.py). The table has no other index.
  statement {
    sid       = "StatusIndexQueries"
    actions   = ["dynamodb:Query"]
    resources = ["${aws_dynamodb_table.this.arn}/index/*"]
  }

  # SendMessageBatch is authorized by sqs:SendMessage (campaign/aws/send_queue.py).
  statement {
    sid       = "EnqueueSends"
    actions   = ["sqs:SendMessage"]
    resources = [module.sends.arn]
  }

  # POST /uploads signs a PUT of uploads/<batchId>.csv (campaign/aws/upload_store.py). Signing is local,
  # but S3 authorizes the client's PUT as this role, so the role must be allowed what the URL does.
  statement {
    sid       = "PresignUploadPuts"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.uploads.arn}/${local.upload_prefix}*"]
  }

  # The API key (app/auth.py, through Powertools' cached SecretsProvider), and the key that checks
  # unsubscribe links (app/deps.py, once per container).
  statement {
    sid       = "ReadApiKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.api_key.arn]
  }

  statement {
    sid       = "ReadUnsubscribeKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.unsubscribe_key.arn]
  }
}

# ------------------------------------------------------------------------------
# Worker
# ------------------------------------------------------------------------------

data "aws_iam_policy_document" "worker" {
  # Claim, release and finish a send row: conditional UpdateItem only (campaign/aws/send_rows.py). The
  # fleet's send-rate bucket, one item PACE#send (campaign/aws/send_pace.py), and the providers'
  # circuit breakers, BREAKER#<provider> (campaign/aws/breakers.py: count failures, open, claim the
  # half-open probe), are conditional UpdateItems on the same table.
  statement {
    sid       = "SendRowUpdates"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  # A probe that succeeded closes its provider's breaker: a conditional DeleteItem of BREAKER#<provider>
  # (campaign/aws/breakers.py record_success). No other item is ever deleted by the worker.
  statement {
    sid       = "CloseBreakers"
    actions   = ["dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  # A body too large for its rows is stored apart, once per batch and content, and read by the worker
  # that sends it (campaign/aws/bodies.py CachedBodies).
  statement {
    sid       = "ReadBodies"
    actions   = ["dynamodb:GetItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  # The suppression list, read once per SQS batch for the claimed recipients before any is sent
  # (campaign/aws/suppressions.py Suppressions.reasons), and every provider's breaker, once per batch
  # (campaign/aws/breakers.py refresh).
  statement {
    sid       = "ReadSuppressions"
    actions   = ["dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  # The key that signs each message's unsubscribe link (campaign/aws/unsubscribe_keys.py), once per container.
  statement {
    sid       = "ReadUnsubscribeKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.unsubscribe_key.arn]
  }

  # The SMTP relay's login (campaign/aws/smtp_credentials.py), once per container; only when send_mode
  # names smtp, as the secret itself (secrets.tf).
  dynamic "statement" {
    for_each = aws_secretsmanager_secret.smtp
    content {
      sid       = "ReadSmtpCredentials"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [statement.value.arn]
    }
  }

  # A message that gets no send token within the invocation goes back on the send queue with a delay
  # (campaign/aws/send_queue.py); SendMessageBatch is authorized by sqs:SendMessage.
  statement {
    sid       = "DeferSends"
    actions   = ["sqs:SendMessage"]
    resources = [module.sends.arn]
  }

  # The SES account's MaxSendRate, the fleet rate's ceiling (campaign/aws/send_quota.py), once per
  # container. GetAccount is an account-level action: IAM authorizes it only on "*".
  statement {
    sid       = "ReadSesSendQuota"
    actions   = ["ses:GetAccount"]
    resources = ["*"]
  }

  # What the SQS event source mappings need on the function's role to poll and delete: the sends, and
  # SES's delivery events (events.tf).
  statement {
    sid = "ConsumeQueues"
    actions = [
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
      "sqs:ReceiveMessage",
    ]
    resources = [module.sends.arn, module.ses_events.arn]
  }

  # A hard bounce or a complaint puts its address on the suppression list: a conditional PutItem
  # (campaign/services/delivery_events.py, campaign/aws/suppressions.py).
  statement {
    sid       = "SuppressBouncedAndComplained"
    actions   = ["dynamodb:PutItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  # SESv2 SendEmail is authorized by ses:SendEmail on the identity and on the configuration set; the
  # condition pins the From address, so the worker can send only as the configured sender.
  statement {
    sid     = "SendAsConfiguredSender"
    actions = ["ses:SendEmail"]
    resources = [
      aws_sesv2_email_identity.this.arn,
      aws_sesv2_configuration_set.this.arn,
    ]

    condition {
      test     = "StringEquals"
      variable = "ses:FromAddress"
      values   = [local.sender_address]
    }
  }
}

# ------------------------------------------------------------------------------
# Streaming ingest
# ------------------------------------------------------------------------------

data "aws_iam_policy_document" "stream_ingest" {
  # Read the uploaded file, twice (campaign/aws/upload_store.py UploadStore.open).
  statement {
    sid       = "ReadUploads"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.uploads.arn}/${local.upload_prefix}*"]
  }

  # Without it S3 answers 403 AccessDenied, not 404 NoSuchKey, for an upload deleted or expired before
  # the ingest read it, and the batch could not be failed as upload_missing. The code never lists.
  statement {
    sid       = "TellMissingUploads"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.uploads.arn]
  }

  # Batch start/take-over/checkpoints/finish (PutItem, UpdateItem, GetItem), message keys
  # (TransactWriteItems of conditional Updates: UpdateItem), bodies and rows (BatchWriteItem; BatchGetItem to
  # resume, and to read the suppression list), the batch's counts item (UpdateItem): the same steps as
  # the ingestor's (campaign/services/ingest.py).
  statement {
    sid = "StatusTableItems"
    actions = [
      "dynamodb:BatchGetItem",
      "dynamodb:BatchWriteItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]
    resources = [aws_dynamodb_table.this.arn]
  }

  # SendMessageBatch is authorized by sqs:SendMessage (campaign/aws/send_queue.py).
  statement {
    sid       = "EnqueueSends"
    actions   = ["sqs:SendMessage"]
    resources = [module.sends.arn]
  }

  # A file that needs more than one run continues in an asynchronous invocation of this same function
  # (campaign/aws/continuation.py); the ARN is built in locals.tf, so no other function may be invoked.
  statement {
    sid       = "ContinueItself"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.stream_ingest_function_arn]
  }

  # Lambda sends events that failed every retry to the on-failure destination with this role.
  statement {
    sid       = "OnFailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.stream_ingest_failures.arn]
  }
}

# ------------------------------------------------------------------------------
# Stream consumer (batch counts)
# ------------------------------------------------------------------------------

data "aws_iam_policy_document" "counts" {
  # Each batch's counts: TransactWriteItems of Update actions, which IAM authorizes as UpdateItem
  # (campaign/aws/batch_counts.py BatchCounts.apply).
  statement {
    sid       = "BatchCountUpdates"
    actions   = ["dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.this.arn]
  }

  # What the DynamoDB Streams event source mapping needs on the function's role to read the stream.
  statement {
    sid = "ReadTableStream"
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
      "dynamodb:ListStreams",
    ]
    resources = [aws_dynamodb_table.this.stream_arn]
  }

  # The mapping describes a delivery that failed every retry to its on-failure destination with this role.
  statement {
    sid       = "OnFailureDestination"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.counts_failures.arn]
  }
}
