"""The key that signs unsubscribe tokens: given locally, read from Secrets Manager when deployed.

Read once per container by each caller that caches it: a new key (a new secret version) reaches
senders and the unsubscribe endpoint as containers are replaced, and tokens signed with the old key
stop working then, so rotate only when the key may have leaked.
"""

from campaign.aws.clients import client
from campaign.config import UnsubscribeKey


def resolve_key(source: UnsubscribeKey) -> bytes:
    if source.value is not None:
        return source.value.encode()
    if source.secret_arn is None:
        raise LookupError("no unsubscribe key is configured")
    return str(client("secretsmanager").get_secret_value(SecretId=source.secret_arn)["SecretString"]).encode()
