################################################################################
# API key of the HTTP API (app/auth.py): a Secrets Manager secret whose ARN the ingestor gets
################################################################################

resource "aws_secretsmanager_secret" "api_key" {
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS-managed key (aws/secretsmanager), which the ingestor's role can use without a key policy; a CMK adds cost for no extra control here.
  #checkov:skip=CKV2_AWS_57:Rotation is a new api_key_version (variables.tf) applied by the pipeline; a rotation Lambda would also have to tell clients the new key.
  name                    = "${local.name}/api-key"
  description             = "API key that clients send to the csv-campaign ${local.stage} API"
  recovery_window_in_days = local.cfg.secret_recovery_window_days
}

# Generated at apply time (Secrets Manager GetRandomPassword, through the AWS provider's ephemeral resource)
# and written through a write-only argument: the key is never in the plan, the state or a tfvars file.
# With manage_api_key_value = false the value is put out of band instead.
ephemeral "aws_secretsmanager_random_password" "api_key" {
  count = var.manage_api_key_value ? 1 : 0

  password_length     = 48
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "api_key" {
  count = var.manage_api_key_value ? 1 : 0

  secret_id                = aws_secretsmanager_secret.api_key.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.api_key[0].random_password
  secret_string_wo_version = var.api_key_version
}

################################################################################
# The key that signs one-click unsubscribe tokens (campaign/domain/unsubscribe.py): read by the worker,
# which puts a signed link in every message, and by the API, which checks it on POST /unsubscribe
################################################################################

resource "aws_secretsmanager_secret" "unsubscribe_key" {
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS-managed key (aws/secretsmanager), which the functions' roles can use without a key policy; a CMK adds cost for no extra control here.
  #checkov:skip=CKV2_AWS_57:Rotation is a new unsubscribe_key_version (variables.tf); it also invalidates the links in messages already sent, so it is done only when the key may have leaked.
  name                    = "${local.name}/unsubscribe-key"
  description             = "HMAC key of the one-click unsubscribe links of the csv-campaign ${local.stage} messages"
  recovery_window_in_days = local.cfg.secret_recovery_window_days
}

# Generated at apply time through a write-only argument, as the API key is: never in the plan or state.
ephemeral "aws_secretsmanager_random_password" "unsubscribe_key" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret_version" "unsubscribe_key" {
  secret_id                = aws_secretsmanager_secret.unsubscribe_key.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.unsubscribe_key.random_password
  secret_string_wo_version = var.unsubscribe_key_version
}

################################################################################
# The SMTP relay's login (campaign/aws/smtp_credentials.py), read by the worker; only when send_mode
# names smtp. Terraform creates the secret empty: the operator puts the relay's credentials in it
# (docs/deploy.md), so they are never in the plan, the state or a tfvars file:
#   aws secretsmanager put-secret-value --secret-id <smtp_secret_arn> \
#     --secret-string '{"username": "...", "password": "..."}'
################################################################################

resource "aws_secretsmanager_secret" "smtp" {
  #checkov:skip=CKV_AWS_149:Encrypted with the AWS-managed key (aws/secretsmanager), which the worker's role can use without a key policy; a CMK adds cost for no extra control here.
  #checkov:skip=CKV2_AWS_57:The relay's provider issues the credentials; rotating them is done there and put here by the operator (put-secret-value), which a rotation Lambda could not do.
  count = local.smtp_is_provider ? 1 : 0

  name                    = "${local.name}/smtp-credentials"
  description             = "Login of the SMTP relay of the csv-campaign ${local.stage} worker: JSON {\"username\": ..., \"password\": ...}, put by the operator"
  recovery_window_in_days = local.cfg.secret_recovery_window_days
}
