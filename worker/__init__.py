"""The SQS worker Lambda. It must not import FastAPI or Strawberry (cold start)."""
