"""Requests past the redirect limit (issue #8), through real clients, containers and KV.

The limit is an edge setting: rather than a platform of its own, this module adds one more edge
to the shared platform with the limit lowered to 1 s (and a small cap on kept results), so the
other tests' edge keeps its 150 s. That edge also shows the follow-up being served by another edge
than the one running the call, through the `berth-call-results` bucket.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.common import credentials
from services.common.readiness import wait_ready_file
from services.edge.redirects import CALL_PARAM, MODAL_CALL_PARAM
from tests.e2e.conftest import Platform, direct, stop_process

APPS = Path(__file__).parent / "apps"
REDIRECT_AFTER = 1.0
MAX_RESULT = 64 * 1024


@pytest.fixture(scope="module")
def edge(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The port of an extra edge on the shared platform, redirecting after REDIRECT_AFTER."""
    folder = tmp_path_factory.mktemp("redirect-edge")
    ready, log = folder / "edge.ready", folder / "edge.log"
    env = {
        **platform.env,
        "BERTH_NATS_URL": platform.nats_url,
        "BERTH_NATS_SEED_FILE": str(platform.seed_file(credentials.EDGE)),
    }
    argv = [sys.executable, "-m", "services.edge", "--port", "0", "--ready-file", str(ready)]
    argv += ["--redirect-after", f"{REDIRECT_AFTER:g}", "--redirect-max-result", str(MAX_RESULT)]
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        address = wait_ready_file(ready, timeout=60, alive=lambda: process.poll() is None)
        # The setting in effect is printed at start, with the rest of the edge's configuration.
        assert f"after={REDIRECT_AFTER}" in log.read_text(), log.read_text()
        yield int(address.rsplit(":", 1)[1])
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def urls(platform: Platform) -> dict[str, str]:
    return platform.deploy(APPS / "slow_calls.py")


def on(port: int, url: str, path: str) -> tuple[str, dict[str, str]]:
    """(URL on 127.0.0.1 at `port`, headers) for a printed function URL plus a path."""
    target, host = direct(url, path)
    return target.replace(target.split("/")[2], f"127.0.0.1:{port}", 1), {"host": host}


def call(port: int, url: str, method: str, path: str, *, follow: bool = True) -> httpx.Response:
    target, headers = on(port, url, path)
    with httpx.Client(timeout=60, follow_redirects=follow, max_redirects=60) as client:
        return client.request(method, target, headers=headers)


def runs(edge: int, urls: dict[str, str], key: str) -> int:
    response = call(edge, urls["web"], "GET", f"/runs?key={key}")
    assert response.status_code == 200, response.text
    return int(response.json()["runs"])


def test_a_call_past_the_limit_is_a_303_chain_ending_in_its_one_result(
    edge: int, urls: dict[str, str]
) -> None:
    response = call(edge, urls["web"], "POST", "/slow?key=chain&seconds=3.5")
    assert response.status_code == 200, response.text
    assert response.json() == {"key": "chain", "runs": 1}
    # Redirected at 1 s, and again each time a follow-up waited another second.
    assert len(response.history) >= 2 and {r.status_code for r in response.history} == {303}
    first = response.history[0].headers["location"]
    assert first.startswith("/slow?key=chain&seconds=3.5&" + CALL_PARAM + "=")
    assert {r.headers["location"] for r in response.history} == {first}
    assert runs(edge, urls, "chain") == 1  # the follow-ups ran nothing again

    # The result stays fetchable, also under the hosted service's parameter name...
    again = call(edge, urls["web"], "GET", first.replace(CALL_PARAM, MODAL_CALL_PARAM))
    assert again.status_code == 200 and again.json() == {"key": "chain", "runs": 1} and not again.history
    # ...but only at its own function's URL, and an id nobody issued is no call at all.
    call_id = first.rsplit("=", 1)[1]
    elsewhere = call(edge, urls["fuse"], "GET", f"/?{CALL_PARAM}={call_id}")
    assert elsewhere.status_code == 404 and "unknown or expired call id" in elsewhere.text
    unknown = call(edge, urls["web"], "GET", f"/slow?{CALL_PARAM}={'A' * 22}")
    assert unknown.status_code == 404 and "unknown or expired call id" in unknown.text
    assert runs(edge, urls, "chain") == 1


def test_another_edge_serves_the_follow_up_from_the_bucket(
    edge: int, platform: Platform, urls: dict[str, str]
) -> None:
    redirect = call(edge, urls["web"], "POST", "/slow?key=elsewhere&seconds=2.5", follow=False)
    assert redirect.status_code == 303, redirect.text
    # The platform's own edge (limit 150 s) never ran the call: it waits on the bucket's record.
    response = call(platform.port, urls["web"], "GET", redirect.headers["location"])
    assert response.status_code == 200 and not response.history
    assert response.json() == {"key": "elsewhere", "runs": 1}


def test_a_stream_that_started_is_never_redirected(edge: int, urls: dict[str, str]) -> None:
    # The stream's head must go out before REDIRECT_AFTER: with a cold start (this test run alone)
    # it would not, and the redirect would be right. So the container is warmed first.
    assert call(edge, urls["web"], "GET", "/runs?key=warm").status_code == 200  # 303s followed
    response = call(edge, urls["web"], "GET", "/stream?seconds=2.5")
    assert response.status_code == 200 and not response.history
    assert response.text == "first\nsecond\n"


def test_the_function_timeout_still_ends_a_redirected_call_with_a_clear_504(
    edge: int, urls: dict[str, str]
) -> None:
    response = call(edge, urls["fuse"], "GET", "/?seconds=6")  # past its 3 s timeout
    assert response.history and response.history[0].status_code == 303
    assert response.status_code == 504, response.text
    assert "the function did not answer within 3s (its timeout)" in response.text
    assert response.headers["x-berth-request-id"]


def test_a_result_too_large_to_keep_is_a_clear_502(edge: int, urls: dict[str, str]) -> None:
    response = call(edge, urls["web"], "POST", f"/slow?key=big&seconds=1.5&size={MAX_RESULT + 1}")
    assert response.history and response.status_code == 502, response.text
    assert response.text.startswith("result too large to keep for a redirected call (request id ")
    assert runs(edge, urls, "big") == 1
