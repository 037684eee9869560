"""Use cases: plain functions that wire domain rules to the AWS gateways."""
