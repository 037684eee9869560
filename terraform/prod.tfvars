# terraform workspace select -or-create prod && terraform apply -var-file=prod.tfvars
stage = "prod"

# Replace with the verified sending domain and From address of the prod account (see docs/deploy.md).
ses_identity   = "mail.example.com"
sender_address = "campaigns@mail.example.com"

send_mode = "ses"

# Browser origins allowed to call the API (none: clients are scripts and curl).
cors_allow_origins = []

max_receive_count = 5
# The fleet sends at the SES account's MaxSendRate (or send_rate_per_second, if lower) whatever its
# size; this only caps the instances (with send_rate_per_second set, Terraform derives it).
worker_max_concurrency = 2

# Set to the on-call address; the subscription must be confirmed from the email AWS sends.
alarm_email = null
