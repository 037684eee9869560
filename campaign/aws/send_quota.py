"""The SES account's own send rate (SESv2 GetAccount → SendQuota.MaxSendRate).

Read once per container: the quota changes only when AWS raises it, and a request per batch would
cost a round trip for nothing. A failure is remembered too (None: the configured rate applies), so
that an SES outage does not add GetAccount's retries and timeouts to every batch; the next container
asks again.
"""

from botocore.exceptions import BotoCoreError, ClientError

from campaign.aws.clients import client
from campaign.caches import per_container
from campaign.observability import logger


@per_container
def account_max_send_rate() -> float | None:
    """Emails per second SES accepts from this account, or None if SES would not say."""
    try:
        quota = client("sesv2").get_account()["SendQuota"]
        return float(quota["MaxSendRate"])
    except (ClientError, BotoCoreError, KeyError) as exc:
        logger.warning("SES account send rate unknown; the configured rate applies", extra={"error": str(exc)})
        return None
