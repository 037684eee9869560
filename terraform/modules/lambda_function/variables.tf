variable "name_prefix" {
  description = "The stage's name prefix, csv-campaign-<stage>: the function, its role and its log group are <name_prefix>-<name>."
  type        = string
}

variable "name" {
  description = "The function's short name, e.g. worker or stream-ingest; also the name of its role's inline policy."
  type        = string
}

variable "description" {
  description = "The function's description."
  type        = string
}

variable "role_description" {
  description = "The description of the function's execution role."
  type        = string
}

variable "filename" {
  description = "Path to the function's zip (built by scripts/package_lambdas.py); the function is redeployed when its hash changes."
  type        = string
}

variable "handler" {
  description = "The handler, module.function, inside the zip."
  type        = string
}

variable "memory_size" {
  description = "Memory in MB (CPU grows with it)."
  type        = number
}

variable "timeout" {
  description = "Timeout in seconds."
  type        = number
}

variable "reserved_concurrent_executions" {
  description = "Reserved concurrency; -1 (Lambda's default) reserves none."
  type        = number
  default     = -1
}

variable "environment_variables" {
  description = "The function's environment: resource names and settings only, never a secret."
  type        = map(string)
}

variable "policy_json" {
  description = "An IAM policy document (aws_iam_policy_document's json) with what the function's code may call; the module adds its log group and X-Ray."
  type        = string
}

variable "log_retention_days" {
  description = "Days the function's log group keeps its logs."
  type        = number
}
