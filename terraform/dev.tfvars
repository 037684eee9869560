# terraform workspace select -or-create dev && terraform apply -var-file=dev.tfvars
stage = "dev"

# Replace with a domain or address you control in the dev account (see docs/deploy.md).
ses_identity   = "dev.mail.example.com"
sender_address = "campaigns@dev.mail.example.com"

# dev rehearses campaigns without mailing anyone; switch to "ses" to send (the SES sandbox delivers
# only to verified recipients, at 1 message/s).
send_mode = "dry-run"

# Browser origins allowed to call the API (none: clients are scripts and curl).
cors_allow_origins = []

max_receive_count      = 5
worker_max_concurrency = 2

alarm_email = null
