"""Crash-loop backoff and buffer_containers, on the shared platform.

A function whose containers raise at import is booted a handful of times however many requests
come, each request gets a 503 naming the failure (detail in the app's logs under its request id),
and `berth app list` shows it failing until a fixed version starts. buffer_containers keeps an
idle container beside the busy one while requests run, and none once idle."""

from __future__ import annotations

import concurrent.futures
import time
from pathlib import Path

import httpx

from tests.e2e.conftest import Platform, container_pids, send, wait_until

APPS = Path(__file__).parent / "apps"

MARKER = "crash-loop: importing the app"  # what tests/e2e/apps/crash_loop.py prints at each boot
MAX_BOOTS = 6


def _paced_requests(platform: Platform, url: str, count: int, seconds: float) -> list[httpx.Response]:
    """`count` requests started evenly over `seconds` (the load is paced, not waited on), all answered."""
    with platform.client(timeout=60) as client, concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = []
        for _ in range(count):
            futures.append(pool.submit(send, client, "GET", url))
            time.sleep(seconds / count)
        return [f.result(timeout=90) for f in futures]


def _listed(platform: Platform, name: str) -> list[str]:
    result = platform.berth("app", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [name])
    end = start + 1
    while end < len(lines) and lines[end].startswith("  "):  # its failing functions, if any
        end += 1
    return lines[start:end]


def test_a_function_failing_at_import_backs_off_and_says_so(platform: Platform, tmp_path: Path) -> None:
    # The image's zygote up first (another app on the same image), as on a warm platform: each
    # failing boot then fails fast. (A cold zygote takes a second or more to fail the first boot,
    # and requests arriving meanwhile boot containers of their own, all in parallel.)
    warm = platform.deploy(APPS / "buffered.py")["slow"]
    assert platform.request("GET", warm).status_code == 200
    url = platform.deploy(APPS / "crash_loop.py")["web"]
    responses = _paced_requests(platform, url, 20, 5.0)
    for response in responses:
        rid = response.headers.get("x-berth-request-id", "")
        assert response.status_code == 503, response.text
        assert response.text == f"web fails at start (request id {rid})\n", response.text
    # The detail (the exception and where it was raised) is in the app's logs under the request id.
    rid = responses[-1].headers["x-berth-request-id"]
    wait_until(lambda: f"request {rid}:" in platform.logs("crash-loop"), "the failed request's log line")
    logs = platform.logs("crash-loop")
    detail = next(line for line in logs.splitlines() if f"request {rid}:" in line)
    assert "web fails at start: RuntimeError: database unreachable" in detail, detail
    boots = logs.count(MARKER)
    assert 1 <= boots <= MAX_BOOTS, f"{boots} boots for 20 requests:\n{logs[-3000:]}"

    failing = _listed(platform, "crash-loop")
    assert failing[0].split()[2] == "failing", failing
    assert "web: fails at start" in failing[1] and "RuntimeError: database unreachable" in failing[1], failing

    # A fixed version starts, serves, and the failing state goes with the failing version.
    fixed = tmp_path / "crash_loop.py"
    fixed.write_text((APPS / "crash_loop.py").read_text().replace("BROKEN = True", "BROKEN = False"))
    url = platform.deploy(fixed)["web"]
    response = platform.request("GET", url)
    assert response.status_code == 200 and response.json() == "fixed", response.text
    recovered = _listed(platform, "crash-loop")
    assert recovered[0].split()[2] == "deployed" and len(recovered) == 1, recovered
    platform.berth("app", "stop", "crash-loop")


def test_buffer_containers_stand_by_while_requests_run(platform: Platform) -> None:
    url = platform.deploy(APPS / "buffered.py")["slow"]
    with platform.client(timeout=60) as client, concurrent.futures.ThreadPoolExecutor(1) as pool:
        running = pool.submit(send, client, "GET", url, "/?seconds=6")
        # One container runs the request, one more idles beside it.
        wait_until(lambda: len(container_pids(platform, "buffered")) == 2, "2 containers (1 busy + 1 buffer)")
        assert running.result(timeout=60).status_code == 200
    # Idle: no traffic, no buffer; both scale down (scaledown_window=2).
    wait_until(lambda: not container_pids(platform, "buffered"), "the buffered app to scale to zero")
    platform.berth("app", "stop", "buffered")
