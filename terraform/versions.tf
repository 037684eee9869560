terraform {
  # 1.11 is the first release with write-only arguments (secret_string_wo in secrets.tf), which keep the
  # generated API key out of plan and state; 1.10 brought the ephemeral resource that produces it.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.0"
    }
    random = {
      source = "hashicorp/random"
      # 3.7 added ephemeral "random_password".
      version = "~> 3.7"
    }
  }
}
