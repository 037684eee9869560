"""Local tooling only (never packaged into a Lambda): provision the emulator, poll SQS into the worker."""
