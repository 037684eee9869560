"""Recipient addresses as SES takes them: ASCII only, an internationalized domain as Punycode.

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
