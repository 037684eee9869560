terraform {
  # The same Terraform as the stage stack (../versions.tf): 1.10+ for the S3 backend's native lock file,
  # 1.9+ for validations that read other variables.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # 5.81 made the OIDC provider's thumbprint_list optional; nothing here needs 6.x, so both the 5.100
      # mirror and 6.x resolve.
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}
