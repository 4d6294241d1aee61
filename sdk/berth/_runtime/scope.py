"""ASGI scopes built from a RequestHead."""

from __future__ import annotations

from typing import Any

from berth.v1 import stream_pb2

from .types import Scope

_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def _server(headers: list[tuple[bytes, bytes]], scheme: str) -> tuple[str, int] | None:
    for name, value in headers:
        if name == b"host":
            text = value.decode("latin-1")
            host, sep, port = text.rpartition(":")
            if sep and port.isdigit() and (not host.startswith("[") or host.endswith("]")):
                return host, int(port)
            return text, _DEFAULT_PORTS.get(scheme, 80)
    return None


def build_scope(head: stream_pb2.RequestHead, state: dict[str, Any]) -> Scope:
    """The http or websocket scope for a request; `state` is copied from the lifespan state."""
    headers = [(h.name.lower(), h.value) for h in head.headers]
    websocket = head.websocket
    scheme = head.scheme or "http"
    if websocket and scheme in ("http", "https"):
        scheme = "ws" if scheme == "http" else "wss"
    scope: Scope = {
        "type": "websocket" if websocket else "http",
        # 2.4: send() raises OSError once the client is gone, so frameworks need not run a second
        # receive() to watch for disconnects, which would race the app for request body chunks.
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": head.http_version or "1.1",
        "scheme": scheme,
        "path": head.path or "/",
        "raw_path": head.raw_path or (head.path or "/").encode(),
        "query_string": head.query_string,
        "root_path": "",
        "headers": headers,
        "client": (head.client_host, head.client_port) if head.client_host else None,
        "server": _server(headers, scheme),
        "state": dict(state),
    }
    if websocket:
        scope["subprotocols"] = list(head.subprotocols)
    else:
        scope["method"] = head.method or "GET"
    return scope
