# terraform workspace select -or-create dev && terraform apply -var-file=dev.tfvars
stage = "dev"

# The region of the dev stage (SES identities, quotas and production access are per region).
aws_region = "us-east-1"

# Placeholders: replace before applying. A plan refuses any example.com/.net/.org value and says what
# to set: a domain you have verified (or will verify) in SES in this account and region, or an address
# you can receive mail at, and the From address at it (docs/deploy.md).
ses_identity   = "dev.mail.example.com"           # replace before applying
sender_address = "campaigns@dev.mail.example.com" # replace before applying

# dev rehearses campaigns without mailing anyone; switch to "ses" to send (the SES sandbox delivers
# only to verified recipients, at 1 message/s).
send_mode = "dry-run"

# Browser origins allowed to call the API (none: clients are scripts and curl).
cors_allow_origins = []

max_receive_count      = 5
worker_max_concurrency = 2

alarm_email = null
