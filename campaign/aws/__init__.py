"""AWS gateways: the only code that talks to boto3."""
