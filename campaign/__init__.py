"""Code shared by the API and worker Lambdas: domain rules, AWS gateways, services.

Nothing in this package imports FastAPI or Strawberry, so the worker's cold start stays small.
"""
