"""`host:port` as operators and clients write it (`[v6]:port` for IPv6), parsed one way everywhere."""

from __future__ import annotations

from urllib.parse import urlsplit


def split_host_port(text: str) -> tuple[str, int] | None:
    """(host, port) of `host:port` or `[v6]:port`, the host lower-cased and unbracketed; None when
    `text` is not one (no host, no port, a port that is not a number in 0-65535)."""
    try:
        parts = urlsplit(f"//{text}")
        host, port = parts.hostname, parts.port
    except ValueError:  # a bad port, or brackets that do not close
        return None
    if not host or port is None:
        return None
    return host, port
