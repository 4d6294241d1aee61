"""Bounded memory on every hop, through the real platform (issue #8): WebSocket credit, a container
that sends past its credit, a container that stops reading its socket, a client that stalls its
body or goes away while the edge waits for credit. Speed and RSS figures are scripts/bench's
(benchmarks/hostile.py); these tests assert behaviour only."""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from berth._wire.flow import WINDOW
from tests.e2e.conftest import EDGE_BODY_TIMEOUT, Platform, container_pids, direct, wait_until

APPS = Path(__file__).parent / "apps"
APP = APPS / "flow_control.py"
MIB = 1 << 20

pytestmark = pytest.mark.xdist_group("flow-control")


@pytest.fixture(scope="module")
def urls(platform: Platform) -> Iterator[dict[str, str]]:
    found = platform.deploy(APP)
    yield found
    platform.berth("app", "stop", "flow-control", timeout=60)


def status(url: str) -> dict[str, Any]:
    target, host = direct(url, "/status")
    response = httpx.get(target, headers={"host": host}, timeout=30)
    assert response.status_code == 200, response.text
    return dict(json.loads(response.text))


def raw(url: str, head: str, *, rcvbuf: int = 0) -> socket.socket:
    """A connection to the edge with `head` (a request head without Host) sent."""
    _, host = direct(url)
    sock = socket.socket()
    if rcvbuf:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", int(host.rsplit(":", 1)[1])))
    sock.sendall(head.replace("\r\n\r\n", f"\r\nHost: {host}\r\n\r\n", 1).encode())
    return sock


def ws(url: str, path: str) -> ClientConnection:
    """A WebSocket client that reads at most one message ahead of what the test takes."""
    target, host = direct(url, path)
    sock = socket.create_connection(("127.0.0.1", int(host.rsplit(":", 1)[1])), timeout=30)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    return connect(f"ws://{host}{path}", sock=sock, open_timeout=120, max_queue=1, close_timeout=2)


def test_an_app_flooding_a_client_that_never_reads_blocks_in_send(urls: dict[str, str]) -> None:
    url = urls["web"]
    with ws(url, "/flood"):
        wait_until(
            lambda: (s := status(url))["flood_done"] or s["flood_sending_for"] > 1.0,
            "the flooding app to block in send() (or to finish)",
        )
        sent = status(url)
    assert not sent["flood_done"], "the app pushed its whole flood to a client that reads nothing"
    # The window, plus what the sockets on the way hold (the kernel's buffers, uvicorn's).
    assert WINDOW // 2 <= sent["flood_sent"] < 32 * MIB, sent


def test_a_container_sending_past_its_credit_is_aborted(urls: dict[str, str], platform: Platform) -> None:
    url = urls["web"]
    before = status(url)["cancelled"]
    with raw(url, "GET /overrun HTTP/1.1\r\n\r\n", rcvbuf=64 * 1024) as sock:
        # The app learns its request was cancelled while the client has read nothing yet.
        wait_until(lambda: status(url)["cancelled"] > before, "the edge to cancel the overrunning request")
        received = b""
        while chunk := sock.recv(1 << 20):
            received += chunk
    assert received.startswith(b"HTTP/1.1 200")
    assert len(received) < 16 * MIB, "the edge relayed a flood past the credit it granted"
    assert not received.endswith(b"0\r\n\r\n"), "the aborted response must not look complete"
    edge_log = platform.home / "logs" / "edge.log"
    wait_until(lambda: "stream aborted" in edge_log.read_text(), "the edge to log the aborted stream")
    assert "flow-control credit" in edge_log.read_text()

    with ws(url, "/overrun") as client:
        wait_until(lambda: status(url).get("ws_overrun_ended"), "the app to see its WebSocket end")
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(1000):
                client.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1011
    assert "credit" in closed.value.rcvd.reason


def test_a_client_gone_while_the_edge_waits_for_credit_cancels_the_request(urls: dict[str, str]) -> None:
    url = urls["web"]
    before = status(url)
    # It promises 64 MiB and sends a window and a bit: the app reads none of it, so the edge waits
    # for credit with the rest of what the client sent still to forward.
    with raw(url, f"POST /hold HTTP/1.1\r\nContent-Length: {64 * MIB}\r\n\r\n") as sock:
        sock.sendall(b"h" * (WINDOW + 64 * 1024))
        wait_until(lambda: status(url)["held"] > before["held"], "the app to get the request")
    wait_until(lambda: status(url)["cancelled"] > before["cancelled"], "the request to be cancelled")


def test_a_body_that_stalls_mid_way_gets_408_and_cancels_the_request(urls: dict[str, str]) -> None:
    url = urls["web"]
    before = status(url)["disconnected"]
    with raw(url, "POST /read-all HTTP/1.1\r\nContent-Length: 1000\r\n\r\n") as sock:
        sock.sendall(b"s" * 10)  # and nothing more
        expected = f"no bytes arrived for {EDGE_BODY_TIMEOUT:g}s".encode()
        answer = b""
        while expected not in answer and (chunk := sock.recv(4096)):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert expected in answer, answer
    wait_until(lambda: status(url)["disconnected"] > before, "the app's request to be cancelled")


def test_a_container_blocked_on_uploads_stalls_nobody_else(urls: dict[str, str], platform: Platform) -> None:
    url, neighbour = urls["web"], urls["neighbour"]
    target, host = direct(neighbour)
    assert httpx.get(target, headers={"host": host}, timeout=120).text == "ok"
    home = status(url)["home"]
    token = secrets.token_hex(4)

    def in_containers(name: str) -> list[Path]:
        # Seen from the host through each container's own root (its mount namespace).
        return [Path(f"/proc/{pid}/root{home}/{name}") for pid in container_pids(platform, "flow-control")]

    answers: dict[str, httpx.Response | Exception] = {}

    def upload(name: str, path: str) -> None:
        target, host = direct(url, path)
        try:
            answers[name] = httpx.post(target, headers={"host": host}, content=b"u" * (12 * MIB), timeout=120)
        except Exception as exc:  # noqa: BLE001 - reported by the assertions below
            answers[name] = exc

    threads = [threading.Thread(target=upload, args=("blocked", f"/block?token={token}"), daemon=True)]
    threads[0].start()
    wait_until(lambda: any(p.exists() for p in in_containers(f"blocked-{token}")), "the app to block")
    # Two more uploads to the blocked container: with the first, more than its agent's queue holds
    # (each edge sends a window of body before it waits for credit).
    for name in ("second", "third"):
        threads.append(threading.Thread(target=upload, args=(name, "/upload"), daemon=True))
        threads[-1].start()
    wait_until(lambda: answers, "an upload to the blocked container to be refused")
    # Another container on the same agent answers while this one is still blocked.
    assert httpx.get(target, headers={"host": host}, timeout=30).text == "ok"
    for path in in_containers(f"release-{token}"):
        with contextlib.suppress(OSError):
            path.write_text("")
    for thread in threads:
        thread.join(timeout=120)
    results = {name: answers.get(name) for name in ("blocked", "second", "third")}
    assert all(isinstance(r, httpx.Response) for r in results.values()), results
    statuses = sorted(r.status_code for r in results.values())  # type: ignore[union-attr]
    assert statuses[0] == 200 and statuses[-1] == 503, results
    for r in results.values():
        assert isinstance(r, httpx.Response)
        if r.status_code == 503:
            assert "the app is not reading its input" in r.text
        else:
            assert r.text == str(12 * MIB)
