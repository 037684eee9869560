output "policy_json" {
  description = "The bucket policy the module applies (TLS only)."
  value       = data.aws_iam_policy_document.this.json
}
