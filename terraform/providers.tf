provider "aws" {
  region = var.aws_region

  default_tags {
    tags = {
      Project   = local.project
      Stage     = local.stage
      ManagedBy = "terraform"
    }
  }
}
