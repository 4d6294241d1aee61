"""The Docker runtime end to end: `berth up` with BERTH_RUNTIME=docker (scheduler builds Docker images,
the agent runs them as containers), real apps deployed and called through the edge.

Needs a Docker engine; no registry: the base image is made locally (debootstrap + docker import) the
first time, which takes a minute or more; later runs reuse it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import EXAMPLES, Platform, start_platform, stop_process, wait_until
from tests.e2e.conftest import docker_client as _docker_client

APPS = Path(__file__).parent / "apps"


def docker_available() -> bool:
    return _docker_client() is not None


SKIP_REASON = "Docker engine absent (docker info failed): Docker runtime tests skipped"
if not docker_available():
    print(f"\n{SKIP_REASON}", file=sys.stderr)

pytestmark = [
    pytest.mark.skipif(not docker_available(), reason=SKIP_REASON),
    pytest.mark.xdist_group("docker"),
]


def _berth_containers(owner: str) -> list[Any]:
    """Containers labelled for this platform's agent (ones removed while listing are left out)."""
    import docker.errors

    client = _docker_client()
    found = []
    for summary in client.api.containers(all=True, filters={"label": f"berth.owner={owner}"}):
        try:
            found.append(client.containers.get(summary["Id"]))
        except docker.errors.NotFound:
            continue
    return found


@pytest.fixture(scope="module")
def docker_platform(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    from services.agent.runtime.docker import owner_label

    home = tmp_path_factory.mktemp("berth-docker-home")
    running = start_platform(home, {"BERTH_RUNTIME": "docker"})
    try:
        yield running
    finally:
        code = stop_process(running.process, signal.SIGINT)
        left = _berth_containers(owner_label(home))
        for container in left:
            container.remove(force=True)
        assert code == 0, f"berth up exited with {code}:\n{running.output.read_text()[-3000:]}"
        assert not left, f"containers outlived berth up: {[c.name for c in left]}"


def _owner(platform: Platform) -> str:
    from services.agent.runtime.docker import owner_label

    return owner_label(platform.home)


def _stop_app(platform: Platform, app: str) -> None:
    result = platform.berth("app", "stop", app, timeout=60)
    assert result.returncode == 0, result.stderr


def test_hello_runs_in_a_container(docker_platform: Platform) -> None:
    url = docker_platform.deploy(EXAMPLES / "hello.py")["f"]
    started = time.monotonic()
    response = docker_platform.request("GET", url)
    cold = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json() == "Hello world!"
    print(f"\n[docker] cold start (deploy done -> response): {cold * 1000:.0f} ms", file=sys.stderr)
    containers = _berth_containers(_owner(docker_platform))
    assert len(containers) == 1 and containers[0].image.tags[0].startswith("berth-img:")
    _stop_app(docker_platform, "hello")
    wait_until(lambda: not _berth_containers(_owner(docker_platform)), "hello's container to be removed")


def test_fastapi_post_sees_the_images_env_and_python(docker_platform: Platform) -> None:
    url = docker_platform.deploy(APPS / "docker_echo.py")["echo"]
    response = docker_platform.request("POST", url, json={"x": 21})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "x2": 42,
        "greeting": 'hi "there" $HOME',
        "in_docker": True,
        "python": "/usr/bin/python3",
        "cwd": "/berth/code",
    }
    _stop_app(docker_platform, "docker-echo")
    wait_until(lambda: not _berth_containers(_owner(docker_platform)), "docker-echo's container to go")


def _serving(container: Any) -> bool:
    import docker.errors

    try:
        container.reload()
        top = container.top() if container.status == "running" else {}
    except docker.errors.NotFound:
        return False
    return any("http.server" in " ".join(row) for row in top.get("Processes") or [])


def test_two_web_servers_share_port_8000(docker_platform: Platform) -> None:
    url = docker_platform.deploy(APPS / "file_server_pair.py")["my_file_server"]
    owner = _owner(docker_platform)
    wait_until(lambda: len(_berth_containers(owner)) == 2, "min_containers=2 to boot")
    response = docker_platform.request("GET", url)
    assert response.status_code == 200 and "Directory listing for /" in response.text
    wait_until(lambda: all(_serving(c) for c in _berth_containers(owner)), "an http.server on :8000 in both")
    assert not any(c.ports for c in _berth_containers(owner))  # nothing published on the host
    assert "Address already in use" not in docker_platform.logs("file-server-pair")
    _stop_app(docker_platform, "file-server-pair")
    wait_until(lambda: not _berth_containers(owner), "no berth container left after `berth app stop`")


def _image_tags() -> set[str]:
    return {tag for image in _docker_client().images.list() for tag in image.tags}


def test_builder_caches_by_tag_and_leaves_no_tag_when_a_package_is_unknown(
    base_image: str, tmp_path: Path
) -> None:
    import grpc

    from berth.v1 import spec_pb2
    from services.builder.docker_build import DockerBuilder
    from services.builder.errors import BuildFailed

    builder = DockerBuilder(tmp_path)
    marker = {"BERTH_TEST_RUN": str(time.time_ns())}  # a fresh image every run
    spec = spec_pb2.ImageSpec(
        steps=[spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars=marker)), spec_pb2.ImageStep(workdir="/srv")]
    )
    lines: list[str] = []
    first = asyncio.run(builder.build(spec, on_line=lines.append))
    again = asyncio.run(builder.build(spec, on_line=lines.append))
    try:
        assert not first.cache_hit, first
        assert again.cache_hit and again.installed == 0, (again, lines[-20:])
        assert first.docker_tag == again.docker_tag == f"berth-img:{first.image_id[:32]}"
        assert first.workdir == "/srv" and first.env == marker
        assert any(line.startswith("docker build berth-img:") for line in lines)
    finally:
        _docker_client().images.remove(first.docker_tag)

    before = _image_tags()
    unknown = spec_pb2.ImageSpec(
        steps=[spec_pb2.ImageStep(pip_install=spec_pb2.PipInstall(packages=["berth-no-such-package-xyz"]))]
    )
    with pytest.raises(BuildFailed) as failed:
        asyncio.run(builder.build(unknown, on_line=lambda line: None))
    assert failed.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert "pip_install(berth-no-such-package-xyz)" in failed.value.message
    assert "berth-no-such-package-xyz" in failed.value.message.split("\n", 1)[1]  # uv's own words
    assert _image_tags() == before


def test_agent_start_removes_containers_an_earlier_agent_left(base_image: str, tmp_path: Path) -> None:
    from services.agent.runtime.docker import DockerRuntime, owner_label, remove_leftovers

    owner = owner_label(tmp_path)
    _docker_client().containers.run(
        base_image, ["sleep", "300"], detach=True, labels={"berth.owner": owner, "berth.container": "old"}
    )
    assert len(_berth_containers(owner)) == 1
    runtime = DockerRuntime(home=tmp_path, agent_id="test")
    assert runtime.owner == owner and not _berth_containers(owner)
    assert remove_leftovers(_docker_client(), owner) == 0


def test_a_container_finds_no_bus_that_accepts_it(docker_platform: Platform) -> None:
    from urllib.parse import urlparse

    url = docker_platform.deploy(APPS / "bus_probe.py")["probe"]
    port = urlparse(docker_platform.nats_url).port
    response = docker_platform.request("GET", url, f"/?port={port}")
    assert response.status_code == 200, response.text
    found = response.json()
    # Its own network namespace: the host's loopback NATS is not even reachable from here.
    assert found["results"].get(str(port)) in {"closed", "refused"}, found
    assert "accepted" not in found["results"].values(), found
    assert not found["bus_in_environment"] and not found["bus_in_arguments"], found
    _stop_app(docker_platform, "bus-probe")
