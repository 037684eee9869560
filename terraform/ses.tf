################################################################################
# SES: the sender identity and the configuration set every send goes through
################################################################################

resource "aws_sesv2_configuration_set" "this" {
  configuration_set_name = local.name

  delivery_options {
    tls_policy = "REQUIRE"
  }

  # Bounce and complaint rates in CloudWatch: what mailbox providers judge a sender by.
  reputation_options {
    reputation_metrics_enabled = true
  }

  sending_options {
    sending_enabled = true
  }

  # Never mail an address again after it bounced or complained.
  suppression_options {
    suppressed_reasons = ["BOUNCE", "COMPLAINT"]
  }
}

# A domain needs the three DKIM CNAMEs from the ses_dkim_records output published in its DNS (plus SPF
# and DMARC for bulk senders); an address gets a verification email. SES identities are per account
# and region: when dev and prod share an account, give each stage its own identity (e.g. a subdomain).
resource "aws_sesv2_email_identity" "this" {
  email_identity         = var.ses_identity
  configuration_set_name = aws_sesv2_configuration_set.this.configuration_set_name
}
