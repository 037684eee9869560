################################################################################
# Status table: batches and send rows (campaign/aws/table_schema.py declares the same table)
################################################################################

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
    name = "statusKey"
    type = "S"
  }
  attribute {
    name = "batchStatusKey"
    type = "S"
  }
  attribute {
    name = "createdKey"
    type = "S"
  }

  # listEmailStatus by status, newest first. Sparse: batch items carry no statusKey.
  global_secondary_index {
    name            = "status-created"
    hash_key        = "statusKey"
    range_key       = "createdKey"
    projection_type = "ALL"
  }

  # listEmailStatus and batch counts for one batch, by status.
  global_secondary_index {
    name            = "batch-status-created"
    hash_key        = "batchStatusKey"
    range_key       = "createdKey"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }

  deletion_protection_enabled = local.cfg.deletion_protection
}
