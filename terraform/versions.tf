terraform {
  # 1.11 is the first release with write-only arguments (secret_string_wo in secrets.tf), which keep the
  # generated API key out of plan and state; 1.10 brought the ephemeral resource that produces it.
  required_version = ">= 1.11.0, < 2.0.0"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # .terraform.lock.hcl pins 5.100.0: the version the stack is applied with on the emulator
      # (tests/infra/test_apply_on_emulator.py) and validated with in CI. Its schema has all this stack uses
      # (write-only secret_string_wo, the ephemeral aws_secretsmanager_random_password); 6.x also resolves.
      version = ">= 5.100.0, < 7.0.0"
    }
  }
}
