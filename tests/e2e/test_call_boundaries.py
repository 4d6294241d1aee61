"""The trust boundaries around function calls, attacked through the real platform: a call's
arguments are cloudpickle, so whoever can call a function runs code in its containers.

- A web client cannot speak the call protocol to an app's host (it reaches the app as a request),
  nor turn a request into a call with forged `x-berth-*` or `authorization` headers.
- A container calls only its own app unless the operator started the platform with
  `--container-calls any`; the caller's app is the agent's word, whatever the container forges.
- A container's calls are bounded (at most N open; frames for streams it never opened, or past its
  credit, harm nobody else), and guessing API tokens at `/__berth/call` gets 429.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import httpx
import pytest

from berth._wire import codec
from berth.cli.config import load
from berth.v1 import stream_pb2
from services.edge.metrics import TOKEN_FAILURE_BURST
from tests.e2e.conftest import Platform, start_platform, stop_platform

APPS = Path(__file__).parent / "apps"
MAX_CALLS = 4  # the open platform's agent limit on calls one container has open
CALL_CONTENT_TYPE = "application/x-berth-call-outputs"
Deployed = tuple[Platform, dict[str, str]]  # the platform and the URLs of what was deployed


def call_body(app: str, function: str) -> bytes:
    head = stream_pb2.CallHead(app=app, function=function)
    return codec.encode(head) + codec.encode(stream_pb2.CallInput(args=cloudpickle.dumps(((), {}))))


def ask(platform: Platform, url: str, **query: Any) -> dict[str, Any]:
    response = platform.request("GET", url, "/", params=query)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture(scope="module")
def default(platform: Platform) -> Iterator[Deployed]:
    """The shared platform, as started by default (containers call their own app only)."""
    platform.deploy(APPS / "boundary_target.py")
    urls = platform.deploy(APPS / "boundary_web.py")
    urls |= {"caller": platform.deploy(APPS / "boundary_caller.py")["web"]}
    yield platform, urls


@pytest.fixture(scope="module")
def open_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, str]]:
    """A platform of its own whose operator allows calls across apps, with a low per-container
    limit on open calls; its edge's token budget is this module's to use up."""
    platform = start_platform(
        tmp_path_factory.mktemp("berth-any-calls"),
        {"BERTH_AGENT_MAX_CALLS": str(MAX_CALLS)},
        "--container-calls",
        "any",
    )
    try:
        platform.deploy(APPS / "boundary_target.py")
        yield platform, platform.deploy(APPS / "boundary_caller.py")["web"]
    finally:
        stop_platform(platform)


# -- web clients ---------------------------------------------------------------------------------


def test_the_call_protocol_on_an_apps_host_is_an_ordinary_request(
    default: Deployed,
) -> None:
    platform, urls = default
    data = call_body("boundary-web", "secret")
    token = load(platform.home).token
    response = platform.request("POST", urls["web"], "/__berth/call", content=data,
                                headers={"authorization": f"Bearer {token}"})  # fmt: skip
    assert response.status_code == 200, response.text
    assert not response.headers["content-type"].startswith(CALL_CONTENT_TYPE)
    answer = response.json()
    assert answer["method"] == "POST" and answer["path"] == "/__berth/call"
    assert answer["body_bytes"] == len(data)  # the app got the CallHead as its body, untouched


def test_forged_platform_headers_do_not_make_a_request_a_call(default: Deployed) -> None:
    platform, urls = default
    forged = {
        "authorization": f"Bearer {load(platform.home).token}",
        "x-berth-call": "1",
        "x-berth-caller-app": "live.boundary-web",
        "x-berth-caller-container": "agent/c",
        "content-type": CALL_CONTENT_TYPE,
    }
    data = call_body("boundary-web", "secret")
    response = platform.request("POST", urls["web"], "/", content=data, headers=forged)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["path"] == "/" and answer["body_bytes"] == len(data)
    assert "boundary-web secret ran" not in platform.logs("boundary-web")


# -- containers ------------------------------------------------------------------------------------


def test_a_container_calling_another_app_is_refused_by_default(default: Deployed) -> None:
    platform, urls = default
    answer = ask(platform, urls["caller"], what="cross")
    assert answer["error"] == "AuthError" and answer["status"] == 403, answer
    assert "a container of app 'boundary-caller' may not call app 'boundary-target'" in answer["message"]
    assert "--container-calls any" in answer["message"]


def test_forged_caller_fields_are_overwritten_by_the_agent(default: Deployed) -> None:
    # The container stamps the callee's own app key on its call: were it believed, the call would pass.
    platform, urls = default
    answer = ask(platform, urls["caller"], what="forged")
    assert answer["status"] == 403, answer
    assert "a container of app 'boundary-caller' may not call app 'boundary-target'" in answer["message"]


def test_frames_for_a_stream_never_opened_harm_nobody(default: Deployed) -> None:
    platform, urls = default
    assert ask(platform, urls["caller"], what="stray") == {"value": 42}


def test_a_call_sent_past_its_credit_fails_alone(default: Deployed) -> None:
    platform, urls = default
    answer = ask(platform, urls["caller"], what="overrun")
    assert answer["status"] == 502 and "past its flow-control credit" in answer["message"], answer
    # The call holding the callee, and the container's next call, went through.
    assert answer["first"] == "started" and answer["held"] == 10 * 4 * 1024 * 1024
    assert answer["after"] == 8


def test_an_operator_can_allow_calls_across_apps(open_platform: tuple[Platform, str]) -> None:
    platform, url = open_platform
    assert ask(platform, url, what="cross") == {"value": "boundary-target's secret"}


def test_calls_past_the_containers_limit_get_429_while_the_open_ones_complete(
    open_platform: tuple[Platform, str],
) -> None:
    platform, url = open_platform
    answer = ask(platform, url, what="many", n=MAX_CALLS)
    assert answer["firsts"] == ["started"] * MAX_CALLS
    extra = answer["extra"]
    assert extra["error"] == "ResourceExhaustedError" and extra["status"] == 429, extra
    assert f"{MAX_CALLS} function calls open already" in extra["message"]
    assert "BERTH_AGENT_MAX_CALLS" in extra["message"]
    assert answer["sizes"] == [10 * 4 * 1024 * 1024] * MAX_CALLS  # the rest, after "started"
    assert answer["after"] == 10  # once they ended, calls go through again


# -- token guessing (last: it uses up this address's budget on the open platform's edge) ------------


def test_guessing_tokens_at_the_call_endpoint_gets_429(open_platform: tuple[Platform, str]) -> None:
    platform, _ = open_platform
    url = f"http://127.0.0.1:{platform.port}/__berth/call"
    data = call_body("boundary-target", "secret")
    with httpx.Client(timeout=30) as client:
        for n in range(TOKEN_FAILURE_BURST):
            guess = client.post(url, content=data, headers={"authorization": f"Bearer bt_guess{n}"})
            assert guess.status_code == 401 and "not valid" in guess.text
        limited = client.post(url, content=data, headers={"authorization": "Bearer bt_guess-next"})
        assert limited.status_code == 429 and "too many failed API token checks" in limited.text
        assert int(limited.headers["retry-after"]) >= 1
        # While limited, even the right token waits: checking it would cost the same look-up.
        valid = {"authorization": f"Bearer {load(platform.home).token}"}
        right = client.post(url, content=data, headers=valid)
        assert right.status_code == 429
