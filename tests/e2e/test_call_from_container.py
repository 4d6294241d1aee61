"""Function calls made from inside a container (issue #11): a web handler's `.remote` goes
through its runner's socket to its agent, over the bus to an edge (trusted: no token), and on to
the callee like any call; the answer comes back the same way, flow-controlled both ways."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Platform, boot_orders, start_platform, stop_platform, wait_until

APPS = Path(__file__).parent / "apps"


@pytest.fixture(scope="module")
def web(platform: Platform) -> Iterator[tuple[Platform, str]]:
    urls = platform.deploy(APPS / "caller.py")
    yield platform, urls["web"]


def ask(web: tuple[Platform, str], **query: Any) -> dict[str, Any]:
    platform, url = web
    response = platform.request("GET", url, "/", params=query)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def is_sleepy(order: Any) -> bool:
    return bool(order.pool.app == "live.caller" and order.pool.function == "sleepy")


def test_a_handler_calls_another_function(web: tuple[Platform, str]) -> None:
    assert ask(web, what="double", x=21) == {"value": 42}


def test_a_handler_streams_a_generator(web: tuple[Platform, str]) -> None:
    assert ask(web, what="squares", x=5) == {"value": [0, 1, 4, 9, 16]}


def test_the_callees_exception_reaches_the_caller(web: tuple[Platform, str]) -> None:
    answer = ask(web, what="fails")
    assert answer["error"] == "ValueError" and "from the callee" in answer["message"]


def test_large_arguments_and_results_flow_both_ways(web: tuple[Platform, str]) -> None:
    size = 20 * 1024 * 1024
    assert ask(web, what="echo", x=size) == {"value": size}


def test_a_callee_killed_mid_call_ends_the_callers_call_with_an_error(web: tuple[Platform, str]) -> None:
    platform, _ = web
    tag = os.urandom(6).hex()
    result: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: result.append(ask(web, what="sleepy", tag=tag)))
    thread.start()
    wait_until(lambda: f"sleepy {tag}" in platform.logs("caller"), "the call to reach the callee")
    pids = [pid for pid, order in boot_orders(platform) if is_sleepy(order)]
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive(), "the caller's call hung after the callee died"
    [answer] = result
    assert "error" in answer and "exited" in answer["message"], answer


def test_an_edge_killed_mid_call_ends_the_callers_call_with_an_error(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A platform of its own: its edge is killed (`berth up` starts another under the same id).
    platform = start_platform(tmp_path_factory.mktemp("berth-edge-killed"))
    try:
        url = platform.deploy(APPS / "caller.py")["web"]
        tag = os.urandom(6).hex()

        def ask_until_the_edge_dies() -> None:
            with contextlib.suppress(httpx.HTTPError):
                platform.request("GET", url, "/", params={"what": "sleepy", "tag": tag})

        thread = threading.Thread(target=ask_until_the_edge_dies)
        thread.start()
        wait_until(lambda: f"sleepy {tag}" in platform.logs("caller"), "the call to reach the callee")
        os.kill(int((platform.home / "run" / "edge.pid").read_text()), signal.SIGKILL)
        # The caller's call ends with the reason, though its callee still sleeps for 100 s.
        wait_until(lambda: f"call ended {tag}" in platform.logs("caller"), "the caller's call to end", 60)
        line = next(x for x in platform.logs("caller").splitlines() if f"call ended {tag}" in x)
        assert "edge" in line, line
        thread.join(timeout=60)
    finally:
        stop_platform(platform)


def test_a_container_call_needs_no_token_but_a_stranger_does(web: tuple[Platform, str]) -> None:
    platform, _ = web
    with httpx.Client(timeout=30) as client:
        response = client.post(f"http://127.0.0.1:{platform.port}/__berth/call", content=b"")
    assert response.status_code == 401
