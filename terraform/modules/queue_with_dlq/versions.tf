terraform {
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # The calling stack pins the version (../../versions.tf and its .terraform.lock.hcl).
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}
