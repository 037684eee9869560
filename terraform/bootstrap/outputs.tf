output "state_bucket_name" {
  description = "S3 bucket of the stages' Terraform state: TF_STATE_BUCKET of each GitHub environment."
  value       = aws_s3_bucket.state.id
}

output "state_bucket_region" {
  description = "Region of the state bucket (the backend's region)."
  value       = var.aws_region
}

output "deploy_role_arns" {
  description = "Per stage, the deploy role's ARN: AWS_DEPLOY_ROLE_ARN of that stage's GitHub environment(s)."
  value       = { for stage, role in aws_iam_role.deploy : stage => role.arn }
}

output "github_oidc_provider_arn" {
  description = "ARN of the account's GitHub OIDC provider (token.actions.githubusercontent.com)."
  value       = local.github_oidc_provider_arn
}

output "backend_config" {
  description = "The S3 backend block for ../ (paste it into ../backend_s3.tf, or pass each line as -backend-config as the deploy workflow does)."
  value       = <<-EOT
    terraform {
      backend "s3" {
        bucket       = "${aws_s3_bucket.state.id}"
        key          = "${local.state_key}"
        region       = "${var.aws_region}"
        encrypt      = true
        use_lockfile = true
      }
    }
  EOT
}
