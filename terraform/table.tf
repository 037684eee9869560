################################################################################
# Status table: send rows, bodies, message keys, batches and their counts, suppressions
# (campaign/aws/table_schema.py declares the same table)
################################################################################

locals {
  # campaign.aws.table_schema LISTED_ATTRIBUTES: what a page of listEmailStatus shows. The three row
  # indexes copy only these, so a status change rewrites a small index entry, never the body.
  listed_attributes = [
    "sendId",
    "batchId",
    "email",
    "subject",
    "status",
    "content",
    "bodyKey",
    "contentJsonBytes",
    "createdAt",
    "updatedAt",
    "attempts",
    "error",
    "provider",
    "providerMessageId",
    "resentAs",
    "resendOf",
    "errorKind",
    "delivery",
    "deliveryAt",
    "bounceType",
    "bounceSubType",
  ]
  # campaign.aws.table_schema BATCH_SUMMARY_ATTRIBUTES: what a global listing plans its page from.
  batch_summary_attributes = [
    "batchId", "createdAt", "positions", "filePositions", "pending", "queued", "sent", "error", "resent", "h",
  ]
  # campaign.aws.table_schema SUPPRESSION_ATTRIBUTES: what a page of the suppression list shows.
  suppression_attributes = ["email", "reason", "source", "suppressedAt"]
}

resource "aws_dynamodb_table" "this" {
  #checkov:skip=CKV_AWS_119:Encrypted with the AWS-managed key (alias/aws/dynamodb); a customer-managed key adds $1/month per stage and a key policy for no extra control here.
  name         = local.name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "pk"

  attribute {
    name = "pk"
    type = "S"
  }
  attribute {
    name = "listKey"
    type = "S"
  }
  attribute {
    name = "pendingKey"
    type = "S"
  }
  attribute {
    name = "deliveryKey"
    type = "S"
  }
  # A row's position in its batch: a number, so the row indexes sort numerically.
  attribute {
    name = "seq"
    type = "N"
  }
  attribute {
    name = "batchesKey"
    type = "S"
  }
  attribute {
    name = "batchOrder"
    type = "S"
  }
  attribute {
    name = "suppressionsKey"
    type = "S"
  }
  attribute {
    name = "suppressionOrder"
    type = "S"
  }

  # listEmailStatus of one batch: its rows by status class and stripe (seq mod 8, so an ingest's
  # writes spread over eight partitions), in position order.
  global_secondary_index {
    name               = "batch-listing"
    hash_key           = "listKey"
    range_key          = "seq"
    projection_type    = "INCLUDE"
    non_key_attributes = local.listed_attributes
  }

  # The PENDING rows only (sparse: the key is removed when a row leaves PENDING), for listings and
  # the operator's re-drive.
  global_secondary_index {
    name               = "batch-pending"
    hash_key           = "pendingKey"
    range_key          = "seq"
    projection_type    = "INCLUDE"
    non_key_attributes = local.listed_attributes
  }

  # Rows SES reported on (sparse: the key is written with the outcome, in the same UpdateItem), by batch,
  # latest delivery outcome and stripe, in position order: listEmailStatus(delivery: ...).
  global_secondary_index {
    name               = "batch-delivery"
    hash_key           = "deliveryKey"
    range_key          = "seq"
    projection_type    = "INCLUDE"
    non_key_attributes = local.listed_attributes
  }

  # Every batch with rows, newest first (its COUNTS# item): where a listing without a batch starts.
  global_secondary_index {
    name               = "batches-newest"
    hash_key           = "batchesKey"
    range_key          = "batchOrder"
    projection_type    = "INCLUDE"
    non_key_attributes = local.batch_summary_attributes
  }

  # Every suppression (SUPP# items), newest first: the suppression list's pages.
  global_secondary_index {
    name               = "suppressions-newest"
    hash_key           = "suppressionsKey"
    range_key          = "suppressionOrder"
    projection_type    = "INCLUDE"
    non_key_attributes = local.suppression_attributes
  }

  # Feeds the stream consumer that keeps each batch's status counts (counts.tf); it compares a row's
  # old and new status, hence both images.
  stream_enabled   = true
  stream_view_type = "NEW_AND_OLD_IMAGES"

  # Rows, bodies and batches expire after var.retention_days, message keys after
  # var.dedupe_window_days (campaign/domain/retention.py); DynamoDB deletes them at no cost.
  # Suppressions carry no expiry: they last until removed.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = local.cfg.deletion_protection
}
