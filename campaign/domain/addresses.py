"""Recipient addresses as SES takes them: ASCII only, an internationalized domain as Punycode; and as
recipients are compared (duplicates in a file, message keys, send ids, the suppression list).

The CSV rules keep the address as the user wrote it (normalized, a Unicode domain stays Unicode, so
listings show what was uploaded); the sender converts it at the last moment. The local part is ASCII
already: the CSV rules refuse any other (SES does not support SMTPUTF8).
"""


def ascii_address(email: str) -> str:
    if email.isascii():
        return email
    # Imported only for the rare non-ASCII domain: the worker's cold start does not pay for it.
    import idna

    local, _, domain = email.rpartition("@")
    return f"{local}@{idna.encode(domain).decode('ascii')}"


def recipient_key(normalized_email: str) -> str:
    """The address as recipients are compared: the normalized address (campaign.domain.csv_rules), in
    lower case. Rows store the normalized address, so a row's recipient is `recipient_key(row.email)`."""
    return normalized_email.lower()
