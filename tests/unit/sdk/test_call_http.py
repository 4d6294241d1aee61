"""The HTTP transport of function calls against a real local HTTP/1.1 server: the token, answers
with Content-Length and chunked bodies over one kept-alive connection, a refusal's status and
text, and a fresh connection when the server closed the idle one."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

import berth
from berth import _calls
from berth._call_http import HttpTransport
from berth._wire import codec
from berth.v1 import stream_pb2


class _Edge(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Client addresses, not id(socket): a closed socket's id can be reused by the next one.
    connections: set[tuple[str, int]] = set()
    seen: list[dict[str, Any]] = []

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def do_POST(self) -> None:  # noqa: N802 - the base class's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        head_bytes = codec.Decoder(lambda data: data, 1 << 20).feed(body)[0]
        head = stream_pb2.CallHead.FromString(head_bytes)
        _Edge.connections.add(self.client_address)
        _Edge.seen.append(
            {"path": self.path, "auth": self.headers["Authorization"], "function": head.function}
        )
        answer = codec.encode(stream_pb2.CallOutput(value=cloudpickle.dumps(head.function.upper())))
        if head.function == "missing":
            text = b"app 'a' has no function 'missing'"
            self.send_response(404)
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            self.wfile.write(text)
        elif head.function == "chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for piece in (answer[:3], answer[3:]):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            if head.function == "close":
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(answer)


@pytest.fixture
def edge() -> Iterator[HttpTransport]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Edge)
    _Edge.connections.clear()
    _Edge.seen.clear()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield HttpTransport(f"http://127.0.0.1:{server.server_address[1]}/", "tok")
    server.shutdown()
    server.server_close()


def _call(transport: HttpTransport, function: str) -> Any:
    body = _calls.request_body(_calls.Target("a", function).head(), (), {})
    output = _calls._single(transport.stream(body), "test call")
    return cloudpickle.loads(output.value)


def test_calls_share_one_kept_alive_connection(edge: HttpTransport) -> None:
    assert [_call(edge, name) for name in ("f", "chunked", "g", "chunked", "h")] == [
        "F",
        "CHUNKED",
        "G",
        "CHUNKED",
        "H",
    ]
    assert len(_Edge.connections) == 1
    assert {(s["path"], s["auth"]) for s in _Edge.seen} == {("/__berth/call", "Bearer tok")}


def test_refusal_carries_status_and_text_and_keeps_the_connection(edge: HttpTransport) -> None:
    with pytest.raises(berth.NotFoundError, match="HTTP 404: app 'a' has no function 'missing'") as info:
        _call(edge, "missing")
    assert info.value.status == 404  # type: ignore[attr-defined]
    assert _call(edge, "f") == "F" and len(_Edge.connections) == 1


def test_a_closed_connection_is_replaced(edge: HttpTransport) -> None:
    assert _call(edge, "close") == "CLOSE"
    assert _call(edge, "f") == "F"
    assert len(_Edge.connections) == 2


def test_unreachable_edge_says_where() -> None:
    transport = HttpTransport("http://127.0.0.1:9/", "tok")
    with pytest.raises(berth.Error, match=r"cannot reach the edge at http://127.0.0.1:9"):
        _call(transport, "f")
