"""Bodies and WebSockets through the platform: chunk-by-chunk responses, large bodies both
ways, WebSockets to ASGI apps and to web_servers."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from tests.e2e.conftest import Platform, direct

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.xdist_group("streaming")


def _ws(url: str, path: str):  # type: ignore[no-untyped-def]
    """A real WebSocket client: the URL's host name, the socket to 127.0.0.1."""
    target, host = direct(url, path)
    port = int(host.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return connect(f"ws://{host}{path}", sock=sock, open_timeout=120, max_size=4 * 1024 * 1024)


def test_streaming_response_arrives_chunk_by_chunk(platform: Platform) -> None:
    url = platform.deploy(APPS / "streams.py")["web"]
    target, host = direct(url, "/stream")
    with httpx.Client(timeout=60) as client:
        with client.stream("GET", target, headers={"host": host}) as response:
            assert response.status_code == 200
            lines: Iterator[str] = response.iter_lines()
            assert next(lines) == "first"
            released = client.post(direct(url, "/release")[0], headers={"host": host})
            assert released.status_code == 200
            assert next(lines) == "second"


def test_large_bodies_both_ways(platform: Platform) -> None:
    url = platform.deploy(APPS / "streams.py")["web"]
    payload = os.urandom(20 * 1024 * 1024 + 123)
    response = platform.request("POST", url, "/echo-bytes", content=payload)
    assert response.status_code == 200
    assert len(response.content) == len(payload)
    assert hashlib.sha256(response.content).digest() == hashlib.sha256(payload).digest()


def download_piece(index: int) -> bytes:
    """As in apps/streams.py: the index-th 256 KiB of /download's body."""
    return hashlib.sha256(str(index).encode()).digest() * 8192


def test_large_upload_to_a_slow_reader_arrives_intact(platform: Platform) -> None:
    url = platform.deploy(APPS / "streams.py")["web"]
    payload = os.urandom(64 * 1024 * 1024 + 5)
    response = platform.request("POST", url, "/slow-upload", content=payload)
    assert response.status_code == 200, response.text
    assert response.json() == {"size": len(payload), "sha256": hashlib.sha256(payload).hexdigest()}


def test_large_download_to_a_slow_client_arrives_intact(platform: Platform) -> None:
    url = platform.deploy(APPS / "streams.py")["web"]
    size = 64 * 1024 * 1024 + 7
    expected = hashlib.sha256()
    for i in range(0, size, 256 * 1024):
        expected.update(download_piece(i // (256 * 1024))[: size - i])
    target, host = direct(url, "/download")
    received = hashlib.sha256()
    count = 0
    with httpx.Client(timeout=120) as client:
        with client.stream("GET", target, params={"n": size}, headers={"host": host}) as response:
            assert response.status_code == 200
            for index, chunk in enumerate(response.iter_raw(16 * 1024)):
                received.update(chunk)
                count += len(chunk)
                if index % 16 == 0:
                    time.sleep(0.001)  # a slow reader: the platform must not buffer for it
    assert count == size
    assert received.digest() == expected.digest()


def test_websocket_to_an_asgi_app(platform: Platform) -> None:
    url = platform.deploy(APPS / "streams.py")["web"]
    with _ws(url, "/ws") as ws:
        ws.send("hello")
        assert ws.recv(timeout=30) == "HELLO"
        big = os.urandom(2 * 1024 * 1024 - 64)  # the guide's 2 MiB message limit
        ws.send(big)
        assert ws.recv(timeout=30) == big[::-1]
        ws.send("close")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


def test_websocket_to_a_web_server(platform: Platform) -> None:
    url = platform.deploy(APPS / "ws_server.py")["server"]
    with _ws(url, "/") as ws:
        for word in ("one", "two"):
            ws.send(word)
            assert ws.recv(timeout=30) == f"echo:{word}"


def test_websocket_to_an_unknown_host_is_refused_with_404(platform: Platform) -> None:
    with pytest.raises(InvalidStatus) as refused:
        with _ws(f"http://local--nobody-here.localhost:{platform.port}/", "/"):
            pass
    assert refused.value.response.status_code == 404
