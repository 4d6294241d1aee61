"""Scope building from a request head, without a socket (the frame codec: tests/unit/wire)."""

from berth._runtime.scope import build_scope
from berth.v1 import stream_pb2


def test_scope_from_head() -> None:
    head = stream_pb2.RequestHead(
        method="POST",
        scheme="https",
        path="/a b",
        raw_path=b"/a%20b",
        query_string=b"x=1",
        headers=[stream_pb2.Header(name=b"Host", value=b"app.example.com")],
        client_host="198.51.100.1",
        client_port=4321,
    )
    state = {"db": 1}
    scope = build_scope(head, state)
    assert scope["type"] == "http" and scope["method"] == "POST" and scope["http_version"] == "1.1"
    assert scope["headers"] == [(b"host", b"app.example.com")]
    assert scope["server"] == ("app.example.com", 443)
    assert scope["client"] == ("198.51.100.1", 4321)
    assert scope["state"] == state and scope["state"] is not state
    ws = build_scope(stream_pb2.RequestHead(path="/ws", websocket=True, subprotocols=["chat"]), {})
    assert (ws["type"], ws["scheme"], ws["subprotocols"], ws["server"]) == ("websocket", "ws", ["chat"], None)
