"""The visible unsubscribe footer's built-in wording (a setting overrides it; docs/api.md). Kept apart from
the message builder so that settings can name it without loading the email package."""

DEFAULT_FOOTER = "You receive this email because you are on our list. Unsubscribe: {url}"
