"""The RequestHead the edge sends ahead of a request, built from the ASGI scope."""

from services.edge.proxy import request_head


def http_scope(**overrides: object) -> dict[str, object]:
    scope: dict[str, object] = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/caf\u00e9/items",
        "raw_path": b"/caf%C3%A9/items",
        "query_string": b"a=1&b=two",
        "headers": [(b"host", b"ws--a-f.berth.localhost"), (b"x-dup", b"1"), (b"x-dup", b"2")],
        "client": ("10.0.0.7", 51234),
    }
    scope.update(overrides)
    return scope


def test_http_request_head() -> None:
    head = request_head(http_scope(), b"hello", True)
    assert head.method == "POST"
    assert head.scheme == "http"
    assert head.path == "/caf\u00e9/items"
    assert head.raw_path == b"/caf%C3%A9/items"
    assert head.query_string == b"a=1&b=two"
    assert [(h.name, h.value) for h in head.headers] == [
        (b"host", b"ws--a-f.berth.localhost"),
        (b"x-dup", b"1"),
        (b"x-dup", b"2"),
    ]
    assert (head.client_host, head.client_port) == ("10.0.0.7", 51234)
    assert head.http_version == "1.1"
    assert not head.websocket
    assert head.body == b"hello" and head.end


def test_body_continues() -> None:
    head = request_head(http_scope(), b"part", False)
    assert head.body == b"part" and not head.end


def test_missing_optional_fields_get_defaults() -> None:
    scope = {"type": "http", "path": "/x", "headers": []}
    head = request_head(scope, b"", True)
    assert head.method == "GET"
    assert head.scheme == "http"
    assert head.raw_path == b"/x"
    assert head.query_string == b""
    assert (head.client_host, head.client_port) == ("", 0)
    assert head.http_version == "1.1"


def test_client_none() -> None:
    head = request_head(http_scope(client=None), b"", True)
    assert (head.client_host, head.client_port) == ("", 0)


def test_websocket_scope() -> None:
    scope = http_scope(type="websocket", scheme="ws", subprotocols=["chat", "json"])
    del scope["method"]
    head = request_head(scope, b"", True)
    assert head.websocket
    assert head.scheme == "ws"
    assert list(head.subprotocols) == ["chat", "json"]


def test_no_span_means_no_traceparent() -> None:
    assert request_head(http_scope(), b"", True).traceparent == ""
