"""Test helpers: fault injection, event builders, CSV factories."""

# The API key every test stack is configured with (tests/conftest.py `stack`).
TEST_API_KEY = "test-api-key-0123456789"
