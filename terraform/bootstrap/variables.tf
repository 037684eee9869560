variable "aws_region" {
  description = "AWS region of the state bucket, e.g. us-east-1: the region the stages' backend names (the stages may deploy elsewhere; IAM is global)."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.aws_region))
    error_message = "aws_region must look like us-east-1."
  }
}

variable "github_repository" {
  description = "The GitHub repository whose deploy workflow may assume the deploy roles, as owner/name (e.g. acme/csv-campaign); no wildcards."
  type        = string

  validation {
    # GitHub: an owner is letters, digits and single hyphens; a repository name is letters, digits, '.', '_'
    # and '-'. Nothing else, so no '*' or '?' can widen the trust policy's subject.
    condition     = can(regex("^[A-Za-z0-9](-?[A-Za-z0-9])*/[A-Za-z0-9._-]+$", var.github_repository))
    error_message = "github_repository must be owner/name of the repository that deploys (e.g. acme/csv-campaign): set it to yours, without wildcards, https:// or .git."
  }
}

variable "github_environments" {
  description = "Per stage, the GitHub environments whose jobs may assume that stage's deploy role (OIDC subject repo:<github_repository>:environment:<name>): the deploy workflow's plan job runs in <stage>-plan, its apply job in <stage> (prod's with required reviewers)."
  type        = map(list(string))
  default = {
    dev  = ["dev-plan", "dev"]
    prod = ["prod-plan", "prod"]
  }

  validation {
    condition     = length(var.github_environments) > 0 && alltrue([for stage in keys(var.github_environments) : contains(["dev", "prod"], stage)])
    error_message = "github_environments is keyed by stage: dev and/or prod (the stages of ../locals.tf)."
  }

  validation {
    # GitHub environment names; no '*' or '?', so the subject stays an exact match.
    condition     = alltrue([for names in values(var.github_environments) : length(names) > 0 && alltrue([for name in names : can(regex("^[A-Za-z0-9._-]{1,255}$", name))])])
    error_message = "Each stage needs at least one GitHub environment name (letters, digits, '.', '_', '-'; no wildcards), e.g. { dev = [\"dev\"], prod = [\"prod\"] }."
  }
}

variable "state_bucket_name" {
  description = "Name of the S3 bucket for the Terraform state of the stages; null for csv-campaign-tfstate-<account id>. Bucket names are global."
  type        = string
  default     = null

  validation {
    # S3's rules, without dots (a dotted name breaks the TLS certificate of virtual-hosted URLs) and
    # without the prefixes and suffixes S3 reserves.
    condition = var.state_bucket_name == null || (
      can(regex("^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", coalesce(var.state_bucket_name, "xxx")))
      && !can(regex("^(xn--|sthree-|amzn-s3-demo-)|(-s3alias|--ol-s3|--x-s3|--table-s3)$", coalesce(var.state_bucket_name, "xxx")))
    )
    error_message = "state_bucket_name must be 3 to 63 lowercase letters, digits and hyphens, starting and ending with a letter or digit (no dots, no xn--/sthree- prefix, no -s3alias/--ol-s3/--x-s3 suffix), or null for csv-campaign-tfstate-<account id>."
  }
}

variable "state_noncurrent_version_days" {
  description = "Days an overwritten state version is kept before S3 expires it (the 10 newest old versions are always kept)."
  type        = number
  default     = 90

  validation {
    condition     = var.state_noncurrent_version_days >= 1 && var.state_noncurrent_version_days <= 3650 && floor(var.state_noncurrent_version_days) == var.state_noncurrent_version_days
    error_message = "state_noncurrent_version_days must be a whole number of days from 1 to 3650."
  }
}

variable "create_github_oidc_provider" {
  description = "Whether to create the account's GitHub OIDC provider (token.actions.githubusercontent.com). An account has at most one per URL: set false when another stack already created it, and its ARN is looked up."
  type        = bool
  default     = true
}

variable "stage_regions" {
  description = "Region each stage deploys to (aws_region in its var-file), when it is not aws_region, e.g. { prod = \"eu-west-1\" }. The deploy roles' resources are scoped to it."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for stage, region in var.stage_regions : contains(["dev", "prod"], stage) && can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", region))])
    error_message = "stage_regions maps dev and/or prod to a region like us-east-1."
  }
}
