variable "aws_region" {
  description = "AWS region of the stage, e.g. us-east-1: named by each stage's var-file (SES identities and production access are per region)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like us-east-1."
  }
}

variable "stage" {
  description = "The stage this var-file is for; must equal the selected workspace (terraform_data.stage_guard checks)."
  type        = string

  validation {
    condition     = contains(["dev", "prod"], var.stage)
    error_message = "stage must be dev or prod."
  }
}

variable "ingestor_zip" {
  description = "Path to the ingestor (API) Lambda package built by `make package` (scripts/package_lambdas.py)."
  type        = string
  default     = "../build/ingestor.zip"
}

variable "worker_zip" {
  description = "Path to the worker Lambda package built by `make package` (scripts/package_lambdas.py)."
  type        = string
  default     = "../build/worker.zip"
}

variable "ses_identity" {
  description = "SES sender identity: a domain (example.com, needs the DKIM CNAMEs from the ses_dkim_records output) or one email address (needs its verification link clicked)."
  type        = string

  validation {
    condition     = can(regex("^([^@\\s]+@)?([a-z0-9-]+\\.)+[a-z]{2,}$", lower(var.ses_identity)))
    error_message = "ses_identity must be a domain name or an email address."
  }

  validation {
    # example.com, .net and .org (RFC 2606) are the var-files' placeholders: no one can verify them in SES.
    condition     = !can(regex("(^|[./@])example\\.(com|net|org)(:[0-9]+)?$", lower(var.ses_identity)))
    error_message = "ses_identity is a placeholder (example.com, .net or .org): set ses_identity to a domain you have verified in SES (or an address you can receive mail at) in the stage's var-file."
  }
}

variable "sender_address" {
  description = "From address of every campaign email. Defaults to ses_identity when that is an address; required when it is a domain."
  type        = string
  default     = null

  validation {
    condition     = var.sender_address == null || can(regex("^[^@\\s]+@([a-z0-9-]+\\.)+[a-z]{2,}$", lower(coalesce(var.sender_address, "x@x.xx"))))
    error_message = "sender_address must be an email address."
  }

  validation {
    condition     = var.sender_address == null || !can(regex("(^|[./@])example\\.(com|net|org)(:[0-9]+)?$", lower(coalesce(var.sender_address, "x@x.xx"))))
    error_message = "sender_address is a placeholder (example.com, .net or .org): set sender_address to the From address at your verified SES domain (e.g. campaigns@mail.your-domain.com) in the stage's var-file."
  }
}

variable "send_mode" {
  description = "Worker send mode (campaign.config SEND_MODE): \"dry-run\" records SENT without sending; otherwise the providers to send through, in the order they are tried: \"ses\", \"smtp\", \"ses,smtp\" or \"smtp,ses\" (the first whose circuit breaker is closed sends; a message one certainly refused goes to the next). Naming smtp needs smtp_host."
  type        = string
  default     = "dry-run"

  validation {
    # campaign.config.parse_send_mode: dry-run, or each provider of campaign.config.Provider at most once.
    condition     = contains(["dry-run", "ses", "smtp", "ses,smtp", "smtp,ses"], var.send_mode)
    error_message = "send_mode must be \"dry-run\" or the providers in the order to try them, comma-separated without spaces: \"ses\", \"smtp\", \"ses,smtp\" or \"smtp,ses\"."
  }
}

variable "send_rate_per_second" {
  description = "Most emails per second the whole worker fleet sends (SEND_RATE_PER_SECOND, a token bucket shared in the table). null: the SES account's MaxSendRate (SESv2 GetAccount); set, the lower of the two applies. It also sizes the worker's maximum concurrency (locals.tf worker_concurrency)."
  type        = number
  default     = null
  nullable    = true

  validation {
    # campaign.config: a positive number under 1,000,000.
    condition     = var.send_rate_per_second == null || (coalesce(var.send_rate_per_second, 1) > 0 && coalesce(var.send_rate_per_second, 1) < 1000000)
    error_message = "send_rate_per_second must be null (the SES account's MaxSendRate) or a number of emails per second above 0 and under 1000000."
  }
}

variable "smtp_host" {
  description = "Host name of the SMTP relay (SendGrid, Mailgun, Postmark...) the smtp provider sends through; required when send_mode names smtp, unused otherwise. Its login goes in the secret of the smtp_secret_arn output."
  type        = string
  default     = null

  validation {
    # A validation may read another variable since Terraform 1.9 (versions.tf).
    condition     = var.smtp_host != null || !contains(split(",", var.send_mode), "smtp")
    error_message = "smtp_host is required when send_mode names smtp: set the relay's host name (e.g. smtp.sendgrid.net)."
  }

  validation {
    # A host name, and not a placeholder under example.com/.net/.org (RFC 2606).
    condition = var.smtp_host == null || (
      can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", lower(coalesce(var.smtp_host, "x.xx"))))
      && !can(regex("(^|[./@])example\\.(com|net|org)(:[0-9]+)?$", lower(coalesce(var.smtp_host, "x.xx"))))
    )
    error_message = "smtp_host must be a host name, not a placeholder (example.com, .net or .org): set smtp_host to your relay's host name, e.g. smtp.sendgrid.net (no scheme, port or path: the port is smtp_port)."
  }
}

variable "smtp_port" {
  description = "TCP port of the SMTP relay: 587 with smtp_tls = \"starttls\", 465 with \"tls\"."
  type        = number
  default     = 587

  validation {
    condition     = var.smtp_port >= 1 && var.smtp_port <= 65535 && floor(var.smtp_port) == var.smtp_port
    error_message = "smtp_port must be a whole number from 1 to 65535."
  }
}

variable "smtp_tls" {
  description = "How the connection to the SMTP relay is encrypted (SMTP_TLS): \"starttls\" (upgraded after connecting, port 587) or \"tls\" (TLS from the first byte, port 465). Never in clear."
  type        = string
  default     = "starttls"

  validation {
    condition     = var.smtp_tls != "none"
    error_message = "smtp_tls \"none\" (no encryption) is refused: the local mailbox of `make run` is the only plain-text server; a relay needs \"starttls\" or \"tls\"."
  }

  validation {
    # campaign.config.SmtpTls, but NONE.
    condition     = var.smtp_tls == "none" || contains(["starttls", "tls"], var.smtp_tls)
    error_message = "smtp_tls must be \"starttls\" (port 587) or \"tls\" (implicit TLS, port 465)."
  }
}

variable "cors_allow_origins" {
  description = "Browser origins allowed to call the API (CORS), e.g. [\"https://app.example.com\"]; empty for none. The app answers CORS itself (CORS_ALLOW_ORIGINS)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for origin in var.cors_allow_origins : can(regex("^https?://[^/\\s]+$", origin))])
    error_message = "Each origin must be scheme://host[:port], without a path or trailing slash."
  }

  validation {
    condition     = alltrue([for origin in var.cors_allow_origins : !can(regex("(^|[./@])example\\.(com|net|org)(:[0-9]+)?$", lower(origin)))])
    error_message = "cors_allow_origins holds a placeholder (example.com, .net or .org): set cors_allow_origins to the origins of your own web app (e.g. https://app.your-domain.com), or [] for none."
  }
}

variable "max_receive_count" {
  description = "Deliveries of a message before SQS moves it to the DLQ; the worker reads the same number to record ERROR on the last one."
  type        = number
  default     = 5

  validation {
    # SQS allows 1-1000; AWS advises at least 5 when Lambda reports partial batch failures.
    condition     = var.max_receive_count >= 5 && var.max_receive_count <= 1000 && floor(var.max_receive_count) == var.max_receive_count
    error_message = "max_receive_count must be a whole number from 5 to 1000."
  }
}

variable "enqueue_delay_seconds" {
  description = "Per-message SQS delay set by the ingestor, so a row is written before any worker can see its message (campaign.limits.ENQUEUE_DELAY_SECONDS)."
  type        = number
  default     = 2

  validation {
    condition     = var.enqueue_delay_seconds >= 0 && var.enqueue_delay_seconds <= 900 && floor(var.enqueue_delay_seconds) == var.enqueue_delay_seconds
    error_message = "enqueue_delay_seconds must be a whole number from 0 to 900 (SQS's limit)."
  }
}

variable "worker_max_concurrency" {
  description = "Most worker instances the SQS event source runs at once. With send_rate_per_second set, the mapping runs only as many as that rate needs (at least 2, at most this: locals.tf worker_concurrency); the rate itself is held by the shared token bucket, not by this number."
  type        = number
  default     = 2

  validation {
    condition     = var.worker_max_concurrency >= 2 && var.worker_max_concurrency <= 1000 && floor(var.worker_max_concurrency) == var.worker_max_concurrency
    error_message = "worker_max_concurrency must be a whole number from 2 to 1000 (the event source mapping's range)."
  }
}

variable "worker_batching_window_seconds" {
  description = "How long the event source gathers messages before invoking the worker with a batch (of up to 100: locals.tf)."
  type        = number
  default     = 1

  validation {
    # Lambda refuses a batch size above 10 without a window of at least a second.
    condition     = var.worker_batching_window_seconds >= 1 && var.worker_batching_window_seconds <= 300 && floor(var.worker_batching_window_seconds) == var.worker_batching_window_seconds
    error_message = "worker_batching_window_seconds must be a whole number from 1 to 300 (the worker's batches hold more than 10 messages)."
  }
}

variable "upload_expiration_days" {
  description = "Days an uploaded CSV stays in the upload bucket (S3 lifecycle expiry); its rows are in the table by then."
  type        = number
  default     = 7

  validation {
    # At least a day: longer than Lambda keeps retrying an event (6 h), so a retried ingest finds its file.
    condition     = var.upload_expiration_days >= 1 && var.upload_expiration_days <= 365 && floor(var.upload_expiration_days) == var.upload_expiration_days
    error_message = "upload_expiration_days must be a whole number from 1 to 365."
  }
}

variable "stream_ingest_reserved_concurrency" {
  description = "Most streaming ingests running at once (reserved concurrency), -1 for no reservation. Each ingest writes to the table's sharded partitions at full speed, so a few at once already use their capacity; events beyond the cap wait in Lambda's asynchronous queue (up to 6 h). It also bounds a runaway self-continuation."
  type        = number
  default     = 2

  validation {
    # 0 would stop the function. Lambda keeps 100 of the account's executions unreserved, so on an
    # account with a lower concurrency quota (new accounts may start at 10) only -1 applies.
    condition     = var.stream_ingest_reserved_concurrency == -1 || (var.stream_ingest_reserved_concurrency >= 1 && var.stream_ingest_reserved_concurrency <= 1000 && floor(var.stream_ingest_reserved_concurrency) == var.stream_ingest_reserved_concurrency)
    error_message = "stream_ingest_reserved_concurrency must be -1 (no reservation) or a whole number from 1 to 1000."
  }
}

variable "dedupe_window_days" {
  description = "Days a message key blocks a second send of the same message (DEDUPE_WINDOW_DAYS): a row an earlier upload accepted within this window is skipped. A whole number of days from 1 to retention_days."
  type        = number
  default     = 30

  validation {
    # campaign.domain.retention.validate: a key that outlived the rows it points at would name a batch
    # that no longer exists. (A validation may read another variable since Terraform 1.9; versions.tf.)
    condition     = var.dedupe_window_days >= 1 && floor(var.dedupe_window_days) == var.dedupe_window_days && var.dedupe_window_days <= var.retention_days
    error_message = "dedupe_window_days must be a whole number of days, at least 1 and at most retention_days."
  }
}

variable "retention_days" {
  description = "Days send rows, bodies, message keys and batches are kept (RETENTION_DAYS) before DynamoDB's time to live deletes them. A whole number of days, 1 or more, and at least dedupe_window_days."
  type        = number
  default     = 90

  validation {
    condition     = var.retention_days >= 1 && floor(var.retention_days) == var.retention_days
    error_message = "retention_days must be a whole number of days, 1 or more."
  }
}

variable "alarm_email" {
  description = "Email address subscribed to the alarm topic (the subscription must be confirmed); required in prod, null in dev for no subscription."
  type        = string
  default     = null

  validation {
    condition     = var.alarm_email == null || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", coalesce(var.alarm_email, "x@x.xx")))
    error_message = "alarm_email must be an email address or null."
  }

  validation {
    condition     = var.alarm_email == null || !can(regex("(^|[./@])example\\.(com|net|org)(:[0-9]+)?$", lower(coalesce(var.alarm_email, "x@x.xx"))))
    error_message = "alarm_email is a placeholder (example.com, .net or .org): set alarm_email to the on-call address that must hear of the stage's alarms."
  }

  validation {
    # Reads another variable: Terraform >= 1.9 (versions.tf asks for 1.11).
    condition     = var.stage != "prod" || var.alarm_email != null
    error_message = "prod needs an alarm address: set alarm_email in prod.tfvars to the on-call address (then confirm the subscription from the email AWS sends), so that prod's alarms reach someone."
  }
}

variable "queue_age_alarm_seconds" {
  description = "Alarm when the oldest message on the send queue is older than this."
  type        = number
  default     = 900

  validation {
    condition     = var.queue_age_alarm_seconds >= 60 && var.queue_age_alarm_seconds <= 345600
    error_message = "queue_age_alarm_seconds must be from 60 to 345600 (the queue's 4-day retention)."
  }
}

variable "counts_lag_alarm_seconds" {
  description = "Alarm when the batch counts lag the table's changes by more than this (the stream consumer's IteratorAge), in seconds."
  type        = number
  default     = 600

  validation {
    # The stream keeps records for 24 hours; an alarm later than that would come after records are lost.
    condition     = var.counts_lag_alarm_seconds >= 60 && var.counts_lag_alarm_seconds <= 86400
    error_message = "counts_lag_alarm_seconds must be from 60 to 86400 (the stream's 24-hour retention)."
  }
}

variable "api_5xx_alarm_threshold" {
  description = "Alarm when the API answers more than this many 5xx responses in 5 minutes."
  type        = number
  default     = 0

  validation {
    condition     = var.api_5xx_alarm_threshold >= 0 && floor(var.api_5xx_alarm_threshold) == var.api_5xx_alarm_threshold
    error_message = "api_5xx_alarm_threshold must be a whole number, 0 or more."
  }
}

variable "manage_api_key_value" {
  description = "Whether Terraform writes a generated API key into the secret. Set false to put the value out of band (aws secretsmanager put-secret-value)."
  type        = bool
  default     = true
}

variable "api_key_version" {
  description = "Bump to make Terraform generate and write a new API key (rotation); only used when manage_api_key_value is true."
  type        = number
  default     = 1

  validation {
    condition     = var.api_key_version >= 1 && floor(var.api_key_version) == var.api_key_version
    error_message = "api_key_version must be a whole number, 1 or more."
  }
}

variable "unsubscribe_key_version" {
  description = "Bump to make Terraform generate a new unsubscribe-link key. Links in messages already sent stop working: do it only if the key may have leaked."
  type        = number
  default     = 1

  validation {
    condition     = var.unsubscribe_key_version >= 1 && floor(var.unsubscribe_key_version) == var.unsubscribe_key_version
    error_message = "unsubscribe_key_version must be a whole number, 1 or more."
  }
}

variable "unsubscribe_footer" {
  description = "Wording of the visible unsubscribe footer of every message; {url} is replaced by the message's one-click link. Empty uses the built-in wording (README), \"off\" leaves the footer out."
  type        = string
  default     = ""
}

variable "ses_bounce_rate_alarm_threshold" {
  description = "Alarm when the account's SES bounce rate (Reputation.BounceRate, a fraction: 0.04 is 4%) reaches this. SES reviews an account at 0.05 and may pause its sending at 0.10."
  type        = number
  default     = 0.04

  validation {
    # A fraction, not a percent: 4 would never fire. At the pause level or above it would fire too late.
    condition     = var.ses_bounce_rate_alarm_threshold > 0 && var.ses_bounce_rate_alarm_threshold < 0.1
    error_message = "ses_bounce_rate_alarm_threshold is a fraction (0.04 is 4%): more than 0 and under 0.1, where SES may pause sending."
  }
}

variable "ses_complaint_rate_alarm_threshold" {
  description = "Alarm when the account's SES complaint rate (Reputation.ComplaintRate, a fraction: 0.0008 is 0.08%) reaches this. SES reviews an account at 0.001 and may pause its sending at 0.005."
  type        = number
  default     = 0.0008

  validation {
    # A fraction, not a percent: 0.08 would be 8%. At the pause level or above it would fire too late.
    condition     = var.ses_complaint_rate_alarm_threshold > 0 && var.ses_complaint_rate_alarm_threshold < 0.005
    error_message = "ses_complaint_rate_alarm_threshold is a fraction (0.0008 is 0.08%): more than 0 and under 0.005, where SES may pause sending."
  }
}
