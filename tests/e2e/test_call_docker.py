"""Function calls on the Docker runtime (issue #11): over HTTP with a token, and from inside a
container through its agent, with the runner in a hardened container rather than a process."""

from __future__ import annotations

import pytest

from berth.v1 import stream_pb2
from tests.e2e.conftest import Platform
from tests.e2e.test_call_api import APPS, body, outputs, post, value
from tests.e2e.test_docker_runtime import SKIP_REASON, docker_available
from tests.e2e.test_docker_runtime import docker_platform as docker_platform  # the fixture

pytestmark = [
    pytest.mark.skipif(not docker_available(), reason=SKIP_REASON),
    pytest.mark.xdist_group("docker"),
]


def test_calls_work_on_the_docker_runtime(docker_platform: Platform) -> None:
    deployed = docker_platform.berth("deploy", str(APPS / "callable.py"))
    assert deployed.returncode == 0, deployed.stderr
    [answer] = outputs(
        post(docker_platform, body(stream_pb2.CallHead(app="callable", function="add"), 2, 40))
    )
    assert value(answer) == 42
    head = stream_pb2.CallHead(app="callable", function="count", generator=True)
    found = outputs(post(docker_platform, body(head, 3)))
    assert [value(o) for o in found[:-1]] == [0, 1, 4] and found[-1].end

    urls = docker_platform.deploy(APPS / "caller.py")
    response = docker_platform.request("GET", urls["web"], "/", params={"what": "double", "x": 21})
    assert response.status_code == 200 and response.json() == {"value": 42}, response.text
    size = 20 * 1024 * 1024
    response = docker_platform.request("GET", urls["web"], "/", params={"what": "echo", "x": size})
    assert response.status_code == 200 and response.json() == {"value": size}, response.text
