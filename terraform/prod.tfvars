# terraform workspace select -or-create prod && terraform apply -var-file=prod.tfvars
stage = "prod"

# The region of the prod stage (SES identities, quotas and production access are per region).
aws_region = "us-east-1"

# Placeholders: replace before applying. A plan refuses any example.com/.net/.org value and says what
# to set: the sending domain verified in SES in the prod account and region, and the From address at
# it (docs/deploy.md).
ses_identity   = "mail.example.com"           # replace before applying
sender_address = "campaigns@mail.example.com" # replace before applying

send_mode = "ses"

# Browser origins allowed to call the API (none: clients are scripts and curl).
cors_allow_origins = []

max_receive_count = 5
# The fleet sends at the SES account's MaxSendRate (or send_rate_per_second, if lower) whatever its
# size; this only caps the instances (with send_rate_per_second set, Terraform derives it).
worker_max_concurrency = 2

# Required in prod: the on-call address (a plan without it fails). Confirm the subscription from the
# email AWS sends after the first apply.
alarm_email = "oncall@example.com" # replace before applying
