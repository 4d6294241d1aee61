"""The edge as a hostile client meets it: oversized and slow heads, idle connections, bad Host
headers, and (on a platform of its own) the rate limit. Waits are bounded; nothing is timed."""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import EXAMPLES, Platform, direct, start_platform, stop_process

APPS = Path(__file__).parent / "apps"
BOUND = 30.0  # far above the edge's header (10 s) and keep-alive (5 s) timeouts


def exchange(port: int, data: bytes, *, timeout: float = BOUND) -> bytes:
    """Sends `data` on a new connection and returns all the edge sends back until it closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(data)
        except OSError:
            pass  # refused while still sending: the answer may be waiting all the same
        received = b""
        try:
            while chunk := sock.recv(65536):
                received += chunk
                if b"\r\n\r\n" in received and _complete(received):
                    break
        except OSError:
            pass
        return received


def _complete(received: bytes) -> bool:
    head, _, body = received.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(body) >= int(line.split(b":", 1)[1])
    return False


def status(received: bytes) -> int:
    return int(received.split(b" ", 2)[1]) if received.startswith(b"HTTP/1.1 ") else 0


def closed_within(sock: socket.socket, seconds: float, *, drip: bytes = b"") -> bool:
    """Whether the edge closes `sock` within `seconds`, sending `drip` every second meanwhile."""
    deadline = time.monotonic() + seconds
    sock.settimeout(1.0)
    while time.monotonic() < deadline:
        try:
            if drip:
                sock.sendall(drip)
            while sock.recv(4096):
                pass  # an answer (408) first, then the close
            return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


@pytest.fixture(scope="module")
def hello(platform: Platform) -> str:
    return platform.deploy(EXAMPLES / "hello.py")["f"]


def _get(host: bytes, *extra: bytes) -> bytes:
    return b"GET / HTTP/1.1\r\nHost: " + host + b"\r\n" + b"".join(e + b"\r\n" for e in extra) + b"\r\n"


def test_headers_over_64_kib_are_a_431(platform: Platform, hello: str) -> None:
    host = direct(hello)[1].encode()
    assert status(exchange(platform.port, _get(host, b"X-Pad: " + b"a" * 60_000))) == 200
    assert status(exchange(platform.port, _get(host, b"X-Pad: " + b"a" * 70_000))) == 431
    # An 8 MiB header never reaches routing: the edge answers once it has read 64 KiB.
    unfinished = b"GET / HTTP/1.1\r\nHost: " + host + b"\r\nX-Pad: " + b"a" * (8 << 20)
    assert status(exchange(platform.port, unfinished)) == 431


@pytest.mark.parametrize(
    "request_bytes",
    [
        _get(b"a--b!.localhost"),
        _get(b"a--*.localhost"),
        _get(b"local--hello-f.localhost", b"Host: local--other-f.localhost"),
        b"GET / HTTP/1.0\r\n\r\n",
    ],
    ids=["bad-char", "wildcard", "two-hosts", "no-host"],
)
def test_malformed_or_repeated_host_is_a_400(platform: Platform, request_bytes: bytes) -> None:
    received = exchange(platform.port, request_bytes)
    assert status(received) == 400, received[:300]
    assert b"Traceback" not in received


@pytest.mark.parametrize("label", [b"--x", b"x--", b"-x--y"])
def test_a_label_no_deploy_can_make_is_a_404(platform: Platform, label: bytes) -> None:
    received = exchange(platform.port, _get(label + b".localhost"))
    assert status(received) == 404 and b"no app is deployed" in received


def test_a_slow_head_is_closed_at_the_header_timeout(platform: Platform) -> None:
    with socket.create_connection(("127.0.0.1", platform.port)) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        assert closed_within(sock, BOUND, drip=b"X: y\r\n"), "a head sent a line a second stayed open"


def test_a_connection_that_sends_nothing_is_closed(platform: Platform) -> None:
    with socket.create_connection(("127.0.0.1", platform.port)) as sock:
        assert closed_within(sock, BOUND)


def test_an_idle_keep_alive_connection_is_closed(platform: Platform, hello: str) -> None:
    with socket.create_connection(("127.0.0.1", platform.port)) as sock:
        sock.sendall(_get(direct(hello)[1].encode()))
        sock.settimeout(BOUND)
        received = b""
        while not _complete(received):
            received += sock.recv(65536)
        assert status(received) == 200
        assert closed_within(sock, BOUND)


def test_healthz_and_apps_still_answer_normally(platform: Platform, hello: str) -> None:
    with httpx.Client(timeout=60) as client:
        target, host = direct(hello)
        assert client.get(target, headers={"host": host}).json() == "Hello world!"
        health = client.get(f"http://127.0.0.1:{platform.port}/healthz", headers={"host": "localhost"})
        assert health.status_code == 200


def test_a_dev_apps_5xx_carries_the_detail_for_its_developer(platform: Platform) -> None:
    url = platform.deploy(APPS / "no_fastapi.py", "--dev")["f"]
    response = platform.request("GET", url)
    assert response.status_code == 503  # a start failure (services/scheduler/backoff.py)
    assert "fastapi_endpoint needs FastAPI" in response.text
    assert f"request id {response.headers['x-berth-request-id']}" in response.text


@pytest.mark.xdist_group("up")
def test_past_the_rate_limit_requests_are_429_with_retry_after(tmp_path: Path) -> None:
    limited = start_platform(tmp_path / "home", {"BERTH_RATE_LIMIT": "5"})
    try:
        target, host = direct(limited.deploy(EXAMPLES / "hello.py")["f"])
        with httpx.Client(timeout=120) as client:
            statuses = []
            refused = None
            for _ in range(200):  # a burst of 25 (5/s for 5 s), then refusals
                response = client.get(target, headers={"host": host})
                statuses.append(response.status_code)
                if response.status_code == 429:
                    refused = response
                    break
            assert refused is not None, statuses
            assert statuses.count(200) >= 25
            assert int(refused.headers["retry-after"]) >= 1
            assert "rate limit" in refused.text
            # Not counted: the edge's own pages, and other workspaces have their own buckets.
            health = client.get(f"http://127.0.0.1:{limited.port}/healthz", headers={"host": "localhost"})
            assert health.status_code == 200
            other = client.get(target, headers={"host": "elsewhere--hello-f.localhost"})
            assert other.status_code == 404
    finally:
        assert stop_process(limited.process, signal.SIGINT) == 0
