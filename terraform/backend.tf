# Remote state: S3 with S3-native locking (use_lockfile, Terraform >= 1.10; no DynamoDB lock table).
# Left commented out so that `terraform init` works on a laptop and in CI without AWS credentials.
#
# The deploy workflow (.github/workflows/deploy.yml) enables it by writing backend_s3.tf with an empty
# `backend "s3" {}` block and passing the settings with -backend-config, so nothing account-specific is
# committed. To use it by hand, uncomment the block below and fill in the bucket.
# Each workspace gets its own state object: env:/<workspace>/csv-campaign/terraform.tfstate.
#
# Create the bucket once, outside this configuration, with versioning on, public access blocked and
# SSE enabled.
#
# terraform {
#   backend "s3" {
#     bucket       = "csv-campaign-tfstate-<account-id>"
#     key          = "csv-campaign/terraform.tfstate"
#     region       = "us-east-1"
#     encrypt      = true
#     use_lockfile = true
#   }
# }
