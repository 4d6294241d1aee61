"""Pure frame encoding and scope building, without a socket."""

import pytest

from berth._runtime.frames import MAX_FRAME, FrameError, decode_all, encode
from berth._runtime.scope import build_scope
from berth.v1 import bus_pb2


def test_encode_decode_round_trip_with_partial_tail() -> None:
    frames = [
        bus_pb2.Frame(stream=0, ready=bus_pb2.RunnerReady(pid=7)),
        bus_pb2.Frame(stream=3, response_body=bus_pb2.Chunk(data=b"x" * 1000, end=True)),
    ]
    wire = b"".join(encode(f) for f in frames)
    assert wire[:4] == len(frames[0].SerializeToString()).to_bytes(4, "big")
    decoded, rest = decode_all(wire + wire[:3])
    assert decoded == frames
    assert rest == wire[:3]


def test_oversized_frame_rejected() -> None:
    with pytest.raises(FrameError):
        decode_all((MAX_FRAME + 1).to_bytes(4, "big"))


def test_scope_from_head() -> None:
    head = bus_pb2.RequestHead(
        method="POST",
        scheme="https",
        path="/a b",
        raw_path=b"/a%20b",
        query_string=b"x=1",
        headers=[bus_pb2.Header(name=b"Host", value=b"app.example.com")],
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
    ws = build_scope(bus_pb2.RequestHead(path="/ws", websocket=True, subprotocols=["chat"]), {})
    assert (ws["type"], ws["scheme"], ws["subprotocols"], ws["server"]) == ("websocket", "ws", ["chat"], None)
