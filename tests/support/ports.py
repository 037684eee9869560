"""Loopback ports for servers a test starts."""

import socket


def free_port() -> int:
    """A port the kernel reports free on 127.0.0.1 (for servers that cannot bind port 0 themselves)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
