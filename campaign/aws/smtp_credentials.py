"""The SMTP relay's login: given locally (and in tests), read from Secrets Manager when deployed.

The secret holds `{"username": "...", "password": "..."}`, the two values a relay hands out together
(SendGrid's "apikey" and its key, SES's SMTP user and password). The sender reads it once per container,
on its first send, so a rotated password reaches the senders as containers are replaced: keep the old
one valid at the relay until then.
"""

import json

from botocore.exceptions import BotoCoreError, ClientError

from campaign.aws.clients import client
from campaign.config import SmtpCredentials

Login = tuple[str, str]


class SmtpSecretError(Exception):
    """The secret could not be read, or does not hold a username and a password."""


def resolve_login(source: SmtpCredentials) -> Login | None:
    """The username and password to AUTH with, or None when the relay takes none."""
    if source.username is not None and source.password is not None:
        return source.username, source.password
    if source.secret_arn is None:
        return None
    try:
        raw = client("secretsmanager").get_secret_value(SecretId=source.secret_arn)["SecretString"]
    except (BotoCoreError, ClientError) as exc:
        raise SmtpSecretError(f"SMTP secret {source.secret_arn} not readable: {exc}") from exc
    try:
        secret = json.loads(raw)
    except ValueError as exc:  # never quote the text: it is a password
        raise SmtpSecretError(f"SMTP secret {source.secret_arn} is not JSON") from exc
    username, password = (secret.get(key) if isinstance(secret, dict) else None for key in ("username", "password"))
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise SmtpSecretError(f'SMTP secret {source.secret_arn} must hold {{"username": ..., "password": ...}}')
    return username, password
