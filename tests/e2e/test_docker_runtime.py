"""The Docker runtime end to end: `berth up` with BERTH_RUNTIME=docker (scheduler builds Docker images,
the agent runs them as hardened containers), real apps deployed and called through the edge.

Needs a Docker engine; no registry: the base image is made locally (debootstrap + docker import) the
first time, which takes a minute or more; later runs reuse it. Nothing here sends traffic anywhere
but to loopback: the app network's firewall is checked by reading its configuration.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import (
    CONFORMANCE,
    EXAMPLES,
    Platform,
    conformance_cases,
    start_platform,
    stop_process,
    wait_until,
)
from tests.e2e.conftest import docker_client as _docker_client

APPS = Path(__file__).parent / "apps"
COLD_RUNS = 5


def docker_available() -> bool:
    return _docker_client() is not None


SKIP_REASON = "Docker engine absent (docker info failed): Docker runtime tests skipped"
if not docker_available():
    print(f"\n{SKIP_REASON}", file=sys.stderr)

pytestmark = [
    pytest.mark.skipif(not docker_available(), reason=SKIP_REASON),
    pytest.mark.xdist_group("docker"),
]


def _owned(owner: str) -> list[Any]:
    """Every container labelled for this platform's agent, pre-started ones included (ones removed
    while listing are left out)."""
    import docker.errors

    client = _docker_client()
    found = []
    for summary in client.api.containers(all=True, filters={"label": f"berth.owner={owner}"}):
        try:
            found.append(client.containers.get(summary["Id"]))
        except docker.errors.NotFound:
            continue
    return found


def _berth_containers(owner: str) -> list[Any]:
    """The containers that are some app's (a pre-started one is renamed when it becomes one)."""
    return [c for c in _owned(owner) if not c.name.startswith("berth-pool-")]


def _iptables(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["iptables", "-w", "5", *args], capture_output=True, text=True, check=False)


def _firewall_possible() -> bool:
    return os.geteuid() == 0 and shutil.which("iptables") is not None


@pytest.fixture(scope="module")
def docker_platform(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    from services.agent.runtime.docker import owner_label
    from services.agent.runtime.docker_network import AppNetwork

    home = tmp_path_factory.mktemp("berth-docker-home")
    running = start_platform(home, {"BERTH_RUNTIME": "docker"})
    try:
        yield running
    finally:
        code = stop_process(running.process, signal.SIGINT)
        left = _owned(owner_label(home))
        for container in left:
            container.remove(force=True)
        network = AppNetwork.for_owner(owner_label(home))
        networks = _docker_client().networks.list(names=[network.name])
        chain_left = _firewall_possible() and _iptables("-S", network.chain).returncode == 0
        assert code == 0, f"berth up exited with {code}:\n{running.output.read_text()[-3000:]}"
        assert not left, f"containers outlived berth up: {[c.name for c in left]}"
        assert not [n.name for n in networks if n.name == network.name], "the app network outlived berth up"
        assert not chain_left, f"iptables chain {network.chain} outlived berth up"


def _owner(platform: Platform) -> str:
    from services.agent.runtime.docker import owner_label

    return owner_label(platform.home)


def _stop_app(platform: Platform, app: str) -> None:
    result = platform.berth("app", "stop", app, timeout=60)
    assert result.returncode == 0, result.stderr
    platform.deployed.clear()  # a later test deploys again what it needs


def _only_container(platform: Platform) -> Any:
    wait_until(lambda: len(_berth_containers(_owner(platform))) == 1, "one app container")
    return _berth_containers(_owner(platform))[0]


def test_hello_runs_in_a_hardened_container(docker_platform: Platform) -> None:
    from services.agent.runtime import docker_params as runtime

    url = docker_platform.deploy(EXAMPLES / "hello.py")["f"]
    started = time.monotonic()
    response = docker_platform.request("GET", url)
    cold = time.monotonic() - started
    assert response.status_code == 200, response.text
    assert response.json() == "Hello world!"
    print(f"\n[docker] first cold start, no pre-started container: {cold * 1000:.0f} ms", file=sys.stderr)
    container = _only_container(docker_platform)
    assert container.image.tags[0].startswith("berth-img:")
    host = container.attrs["HostConfig"]
    assert container.attrs["Config"]["User"] == f"{runtime.APP_UID}:{runtime.APP_UID}"
    assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"]
    assert host["ReadonlyRootfs"] and list(host["Tmpfs"]) == ["/tmp"]
    assert host["Memory"] == host["MemorySwap"] == runtime.DEFAULT_MEMORY_MIB << 20
    assert host["NanoCpus"] == int(runtime.DEFAULT_CPU * 1e9) and host["PidsLimit"] == runtime.PIDS_LIMIT
    assert host["NetworkMode"] == f"berth-apps-{_owner(docker_platform)}" and not host["PortBindings"]
    assert not any("docker.sock" in bind for bind in host["Binds"]), host["Binds"]
    _stop_app(docker_platform, "hello")
    wait_until(lambda: not _berth_containers(_owner(docker_platform)), "hello's container to be removed")


def test_cold_starts_come_from_pre_started_containers(docker_platform: Platform, tmp_path: Path) -> None:
    """Fresh deploys of hello under new names (image built): each first request is a cold start."""
    source = (EXAMPLES / "hello.py").read_text()
    assert 'App("hello")' in source
    samples = []
    for i in range(COLD_RUNS):
        name = f"cold-{uuid.uuid4().hex[:6]}-{i}"
        path = tmp_path / f"{name}.py"
        path.write_text(source.replace('App("hello")', f'App("{name}")'))
        url = docker_platform.deploy(path)["f"]
        time.sleep(3.0)  # scaling from zero after a while: the pre-started container is ready
        started = time.monotonic()
        response = docker_platform.request("GET", url)
        samples.append((time.monotonic() - started) * 1000)
        assert response.status_code == 200, response.text
        _stop_app(docker_platform, name)
    p50 = statistics.median(samples)
    runs = ", ".join(f"{s:.0f}" for s in samples)
    print(
        f"\n[docker] cold start, pre-started container ready, p50 of {COLD_RUNS}: {p50:.0f} ms ({runs})",
        file=sys.stderr,
    )
    assert p50 < 2000, samples  # the goal (750 ms) is for scripts/bench on a quiet machine
    wait_until(
        lambda: not _berth_containers(_owner(docker_platform)), "the cold-start apps' containers to go"
    )


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
    assert not any(c.ports for c in _owned(owner))  # nothing published on the host
    assert "Address already in use" not in docker_platform.logs("file-server-pair")
    _stop_app(docker_platform, "file-server-pair")
    wait_until(lambda: not _berth_containers(owner), "no berth container left after `berth app stop`")


def test_the_app_network_is_closed_to_neighbours_and_to_the_host(docker_platform: Platform) -> None:
    from services.agent.runtime.docker_network import AppNetwork

    network = AppNetwork.for_owner(_owner(docker_platform))
    found = [n for n in _docker_client().networks.list(names=[network.name]) if n.name == network.name]
    assert len(found) == 1
    options = found[0].attrs["Options"]
    assert options["com.docker.network.bridge.enable_icc"] == "false"
    assert options["com.docker.network.bridge.name"] == network.bridge
    if not _firewall_possible():
        pytest.skip("no root or no iptables here: the agent said it could not firewall the app network")
    chain = _iptables("-S", network.chain)
    assert chain.returncode == 0, chain.stderr
    for rule in network.rules():
        assert f"-A {network.chain} {' '.join(rule)}" in chain.stdout.splitlines(), chain.stdout
    for parent in ("INPUT", "DOCKER-USER"):
        listing = _iptables("-S", parent).stdout.splitlines()
        jump = f"-A {parent} -i {network.bridge} -j {network.chain}"
        assert jump in listing, listing
        before = [line for line in listing[: listing.index(jump)] if line.startswith("-A")]
        assert all(" -j BERTH-" in line for line in before), listing  # ahead of all but other agents'


def _platform_secrets(platform: Platform) -> dict[str, str]:
    """Every secret `berth up` keeps in its home: keys, token, NATS seeds."""
    found = {}
    for path in [platform.home / "secret.key", *sorted((platform.home / "credentials").glob("*"))]:
        if path.is_file() and path.suffix not in (".pub", ".crt"):
            text = path.read_text(errors="replace").strip()
            if len(text) >= 16:
                found[str(path)] = text
    config = (platform.home / "config.toml").read_text()
    for line in config.splitlines():
        if line.startswith("token"):
            found["config.toml token"] = line.split("=", 1)[1].strip().strip('"')
    return found


def test_a_hostile_tenant_finds_nothing_of_the_platform_or_its_neighbours(docker_platform: Platform) -> None:
    victim_secret = f"victim-{uuid.uuid4().hex}"
    created = docker_platform.berth("secret", "create", "greeting-secret", f"GREETING={victim_secret}")
    assert created.returncode == 0, created.stderr
    victim = docker_platform.deploy(APPS / "needs_secret.py")["greet"]
    assert docker_platform.request("GET", victim).json() == victim_secret  # running now, beside the tenant
    url = docker_platform.deploy(APPS / "hostile_tenant.py")["probe"]
    nats_port = urlparse(docker_platform.nats_url).port
    api_port = _api_port(docker_platform)
    ports = f"{nats_port},{api_port},{docker_platform.port}"
    paths = ",".join(
        [str(docker_platform.home), str(docker_platform.home / "secret.key"), "/var/run/docker.sock"]
    )
    response = docker_platform.request("GET", url, f"/?ports={ports}&paths={paths}")
    assert response.status_code == 200, response.text
    seen = response.json()

    assert seen["uid"] != 0 and seen["gid"] != 0 and 0 not in seen["groups"], seen["uid"]
    assert int(seen["cap_eff"], 16) == 0 and int(seen["cap_bnd"], 16) == 0, (seen["cap_eff"], seen["cap_bnd"])
    assert seen["no_new_privs"] == "1" and seen["setuid_0"] == "PermissionError"
    writes = seen["writes"]
    assert writes.pop("/tmp/berth-probe") == "written" and "written" not in writes.values(), seen["writes"]
    # The bus, the gRPC API and the edge listen on the host's loopback, which is not this one.
    assert seen["ports"] == {str(p): "closed" for p in (nats_port, api_port, docker_platform.port)}, seen[
        "ports"
    ]
    assert not any(seen["paths"].values()), seen["paths"]
    assert seen["sockets"] == ["/berth/run/runner.sock"], seen["sockets"]
    assert "docker.sock" not in seen["mounts"], seen["mounts"]
    # Its own processes only: the init, the runner (no agent, no other container, no host).
    commands = [p["cmdline"] for p in seen["processes"].values()]
    assert len(commands) <= 3, commands
    assert not any("services." in c or "nats-server" in c for c in commands), commands

    everything = str(seen)
    secrets = {"victim's secret": victim_secret, **_platform_secrets(docker_platform)}
    leaked = [name for name, value in secrets.items() if value in everything]
    assert not leaked, f"the tenant could read: {leaked}"
    for app in ("hostile-tenant", "needs-secret"):
        _stop_app(docker_platform, app)


def _api_port(platform: Platform) -> int:
    config = (platform.home / "config.toml").read_text()
    server = next(line for line in config.splitlines() if line.startswith("server"))
    return int(server.split("=", 1)[1].strip().strip('"').rsplit(":", 1)[1])


def test_a_container_over_its_memory_limit_is_killed_and_says_so(docker_platform: Platform) -> None:
    url = docker_platform.deploy(APPS / "memory_hog.py")["hog"]
    response = docker_platform.request("GET", url)
    assert 500 <= response.status_code < 600, (response.status_code, response.text)
    deadline = time.monotonic() + 30
    logs = ""
    while "out of memory" not in logs and time.monotonic() < deadline:
        logs = docker_platform.logs("memory-hog")
    _stop_app(docker_platform, "memory-hog")
    assert "out of memory" in logs and "128 MiB" in logs, logs[-2000:]
    assert "out of memory" in response.text, response.text


def test_a_fork_bomb_is_contained_and_the_platform_stays_healthy(docker_platform: Platform) -> None:
    from services.agent.runtime.docker_params import PIDS_LIMIT

    url = docker_platform.deploy(APPS / "fork_bomb.py")["bomb"]
    response = docker_platform.request("GET", url, "/?seconds=5")
    assert response.status_code == 200, response.text
    found = response.json()
    assert PIDS_LIMIT // 2 < found["peak_processes"] <= PIDS_LIMIT, found  # it ran into the limit
    assert found["fork"] == "BlockingIOError", found  # EAGAIN: no pid left in the container
    # Meanwhile the rest of the platform serves as usual.
    hello = docker_platform.deploy(EXAMPLES / "hello.py")["f"]
    started = time.monotonic()
    assert docker_platform.request("GET", hello).json() == "Hello world!"
    assert time.monotonic() - started < 10
    listing = docker_platform.berth("app", "list")
    assert listing.returncode == 0 and "fork-bomb" in listing.stdout, listing.stderr
    _stop_app(docker_platform, "fork-bomb")
    _stop_app(docker_platform, "hello")
    wait_until(lambda: not _berth_containers(_owner(docker_platform)), "the bomb's container to be removed")


CASES = conformance_cases()


@pytest.mark.skipif(not CASES, reason="../shared/conformance is absent")
@pytest.mark.parametrize(
    "case", CASES, ids=[f"{c['app']}-{c['method']}-{c['path']}-{c['status']}" for c in CASES]
)
def test_conformance_on_docker(docker_platform: Platform, case: dict[str, object]) -> None:
    from tests.e2e import test_conformance as conformance

    assert CONFORMANCE.is_dir()
    conformance.test_case(docker_platform, case)


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
    assert len(_owned(owner)) == 1
    runtime = DockerRuntime(home=tmp_path, agent_id="test")
    try:
        assert runtime.owner == owner and not _owned(owner)
        assert remove_leftovers(_docker_client(), owner) == 0
    finally:
        asyncio.run(runtime.close())
    assert not [
        n
        for n in _docker_client().networks.list(names=[runtime.network.name])
        if n.name == runtime.network.name
    ]


def test_a_container_finds_no_bus_that_accepts_it(docker_platform: Platform) -> None:
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
