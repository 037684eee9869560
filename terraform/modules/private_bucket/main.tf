################################################################################
# What every bucket of the project has: public access blocked, ACLs off (the bucket owner owns every
# object, whoever wrote it), SSE-S3 at rest, a policy refusing requests without TLS, and lifecycle rules
# that end with aborting incomplete multipart uploads (invisible, but billed until aborted).
################################################################################

resource "aws_s3_bucket_public_access_block" "this" {
  bucket = var.bucket

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = var.bucket

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = var.bucket

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

locals {
  # Requests the bucket refuses, from everyone, on the bucket and every object: without TLS, and, when a
  # minimum version is set, over an older TLS.
  denials = concat(
    [{ sid = "DenyInsecureTransport", test = "Bool", variable = "aws:SecureTransport", value = "false" }],
    var.minimum_tls_version == null ? [] : [{
      sid      = "DenyTlsBelow${replace(var.minimum_tls_version, ".", "")}"
      test     = "NumericLessThan"
      variable = "s3:TlsVersion"
      value    = var.minimum_tls_version
    }],
  )
}

data "aws_iam_policy_document" "this" {
  dynamic "statement" {
    for_each = local.denials
    content {
      sid       = statement.value.sid
      effect    = "Deny"
      actions   = ["s3:*"]
      resources = [var.bucket_arn, "${var.bucket_arn}/*"]

      principals {
        type        = "*"
        identifiers = ["*"]
      }

      condition {
        test     = statement.value.test
        variable = statement.value.variable
        values   = [statement.value.value]
      }
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = var.bucket
  policy = data.aws_iam_policy_document.this.json

  # S3 refuses a bucket policy while the public access block is being changed.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  #checkov:skip=CKV_AWS_300:The last rule below aborts incomplete multipart uploads in the whole bucket after a day; checkov renders the dynamic rules in place of that static one (tests/infra/test_private_bucket.py checks it, and the emulator apply creates it).
  bucket = var.bucket

  dynamic "rule" {
    for_each = var.lifecycle_rules
    content {
      id     = rule.value.id
      status = "Enabled"

      filter {
        prefix = rule.value.prefix
      }

      dynamic "expiration" {
        for_each = rule.value.expiration_days == null && rule.value.expired_object_delete_marker == null ? [] : [rule.value]
        content {
          days                         = expiration.value.expiration_days
          expired_object_delete_marker = expiration.value.expired_object_delete_marker
        }
      }

      dynamic "noncurrent_version_expiration" {
        for_each = rule.value.noncurrent_version_expiration == null ? [] : [rule.value.noncurrent_version_expiration]
        content {
          noncurrent_days           = noncurrent_version_expiration.value.noncurrent_days
          newer_noncurrent_versions = noncurrent_version_expiration.value.newer_noncurrent_versions
        }
      }
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}
