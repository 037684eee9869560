variable "bucket" {
  description = "Name (id) of the bucket to make private: the caller declares the bucket itself, with its own lifecycle and checkov reasons."
  type        = string
}

variable "bucket_arn" {
  description = "ARN of the same bucket, for its TLS-only policy."
  type        = string
}

variable "minimum_tls_version" {
  description = "When set (e.g. \"1.2\"), the bucket policy also refuses requests over an older TLS version; null refuses only requests without TLS."
  type        = string
  default     = null
}

variable "lifecycle_rules" {
  description = "The bucket's own lifecycle rules, in order: each expires what its prefix (null: the whole bucket) holds after expiration_days, drops expired delete markers, and/or expires noncurrent versions. The module adds a rule that aborts incomplete multipart uploads after a day."
  type = list(object({
    id                           = string
    prefix                       = optional(string)
    expiration_days              = optional(number)
    expired_object_delete_marker = optional(bool)
    noncurrent_version_expiration = optional(object({
      noncurrent_days           = number
      newer_noncurrent_versions = number
    }))
  }))
  default = []
}
