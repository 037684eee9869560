################################################################################
# Upload bucket: large CSVs PUT through pre-signed URLs (POST /uploads), read by the streaming ingest.
# campaign/aws/upload_store.py names the objects uploads/<batchId>.csv; scripts/local/provision.py
# creates the same bucket on the emulator (there without the account id).
################################################################################

resource "aws_s3_bucket" "uploads" {
  #checkov:skip=CKV_AWS_18:Objects are PUT only through short-lived pre-signed URLs the API signs per batch and live for days; API Gateway access logs and the ingest logs record who asked for each and what became of it.
  #checkov:skip=CKV_AWS_21:Not versioned: a key holds one file, bound to its SHA-256 by the signed checksum, and is a transient input that expires (local.upload_expiration_days); older versions would only add cost.
  #checkov:skip=CKV_AWS_144:Uploads are transient inputs, re-uploadable by the client; a replica in another region adds cost without a recovery need.
  #checkov:skip=CKV_AWS_145:SSE-S3, like the SQS-managed SSE of the queues (queue.tf); a customer-managed KMS key would add cost and key-policy grants to both roles for no extra control here.
  bucket = local.upload_bucket_name
  # Objects are transient inputs: destroying dev must not stop at leftover uploads; prod keeps the guard.
  force_destroy = !local.cfg.deletion_protection
}

# Private, encrypted and TLS-only (pre-signed URLs are https: boto3 signs https URLs); the objects are
# the bucket owner's, whoever PUT them through a pre-signed URL.
module "uploads_bucket" {
  source = "./modules/private_bucket"

  bucket     = aws_s3_bucket.uploads.id
  bucket_arn = aws_s3_bucket.uploads.arn

  # An upload is read by its ingest within minutes (or hours, through Lambda's retries and
  # continuations); after that its rows live in the table and the file is not needed. A multipart upload
  # that never completed (say, an operator's interrupted `aws s3 cp`) is aborted by the module's own rule.
  lifecycle_rules = [{
    id              = "expire-uploads"
    prefix          = local.upload_prefix
    expiration_days = var.upload_expiration_days
  }]
}

# Where these resources were before the module: Terraform moves them, nothing is replaced.
moved {
  from = aws_s3_bucket_public_access_block.uploads
  to   = module.uploads_bucket.aws_s3_bucket_public_access_block.this
}

moved {
  from = aws_s3_bucket_ownership_controls.uploads
  to   = module.uploads_bucket.aws_s3_bucket_ownership_controls.this
}

moved {
  from = aws_s3_bucket_server_side_encryption_configuration.uploads
  to   = module.uploads_bucket.aws_s3_bucket_server_side_encryption_configuration.this
}

moved {
  from = aws_s3_bucket_policy.uploads
  to   = module.uploads_bucket.aws_s3_bucket_policy.this
}

moved {
  from = aws_s3_bucket_lifecycle_configuration.uploads
  to   = module.uploads_bucket.aws_s3_bucket_lifecycle_configuration.this
}

# Browsers PUT straight to S3 with the pre-signed URL: allowed from the API's CORS origins only, and
# only when there are any (the API's own CORS follows the same variable).
resource "aws_s3_bucket_cors_configuration" "uploads" {
  count = length(var.cors_allow_origins) > 0 ? 1 : 0

  bucket = aws_s3_bucket.uploads.id

  cors_rule {
    allowed_methods = ["PUT"]
    allowed_origins = var.cors_allow_origins
    # x-amz-checksum-sha256 is signed into the URL (campaign/aws/upload_store.py) and must be sent.
    allowed_headers = ["content-type", "x-amz-checksum-sha256"]
    expose_headers  = ["ETag"]
    max_age_seconds = 3000
  }
}

# ------------------------------------------------------------------------------
# ObjectCreated -> streaming ingest
# ------------------------------------------------------------------------------

resource "aws_lambda_permission" "uploads" {
  statement_id  = "AllowUploadBucketNotifications"
  action        = "lambda:InvokeFunction"
  function_name = module.stream_ingest.function_name
  principal     = "s3.amazonaws.com"
  # This bucket, in this account (bucket names are global: a deleted bucket's name could be taken).
  source_arn     = aws_s3_bucket.uploads.arn
  source_account = local.account_id
}

resource "aws_s3_bucket_notification" "uploads" {
  bucket = aws_s3_bucket.uploads.id

  # Every way an object is created (a pre-signed PUT, or an operator's multipart copy) under the
  # prefix and suffix the code names its uploads with (UPLOAD_PREFIX / UPLOAD_SUFFIX).
  lambda_function {
    lambda_function_arn = module.stream_ingest.arn
    events              = ["s3:ObjectCreated:*"]
    filter_prefix       = local.upload_prefix
    filter_suffix       = local.upload_suffix
  }

  # S3 checks that it may invoke the function when the notification is saved.
  depends_on = [aws_lambda_permission.uploads]
}
