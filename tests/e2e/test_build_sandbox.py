"""Build steps run sandboxed: a package's setup.py records what it can see, and sees no platform.

Builds go through the builder's own classes (ProcessBuilder, as test_docker_runtime does for
DockerBuilder) with a real uv, a real sdist and PyPI for setuptools and a dependency; the probe's
record comes back as a data file of the package it built, read from the finished venv. The probe
also tries the network the way a hostile build backend would: a listener the test opens on this
host, a package index's address directly (around the proxy), and a CONNECT to a host that is no
package index through the proxy it is given.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berth.v1 import spec_pb2
from services.builder import sandbox
from services.builder.errors import InvalidSpec
from services.builder.process_build import ProcessBuilder
from services.builder.runtime_layer import RuntimeLayers
from services.builder.sandbox import Sandbox
from services.common import nft

BUILD_TIMEOUT = 600.0
NATS_URL = "nats://127.0.0.1:4222"
DOCKER_SOCKET = "/var/run/docker.sock"

# Runs at build time (each PEP 517 hook runs it again; the last record wins). It can write only
# into its own build tree, so the record travels in the package it builds.
SETUP_PY = """
import base64, json, os, socket
from urllib.parse import urlsplit
from setuptools import setup

HOME = {home!r}
SECRET = {secret!r}
LISTENER = {listener!r}
INDEX_ADDRESS = {index_address!r}


def attempt(action):
    try:
        return {{"ok": True, "value": action()}}
    except Exception as exc:
        return {{"ok": False, "error": repr(exc)}}


def docker():
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(2)
        sock.connect({docker!r})
    return "connected"


def pid1():
    with open("/proc/1/cmdline", "rb") as f:
        return f.read().replace(b"\\0", b" ").decode(errors="replace")


def connect(address):
    with socket.create_connection(tuple(address), timeout=5):
        return "connected"


def connect_through_proxy(target):
    proxy = urlsplit(os.environ["HTTPS_PROXY"])
    credentials = base64.b64encode(f"{{proxy.username}}:{{proxy.password}}".encode()).decode()
    with socket.create_connection((proxy.hostname, proxy.port), timeout=5) as sock:
        sock.settimeout(5)
        # CRLF spelled out: setuptools turns a backslash-r-backslash-n in setup.py into a newline.
        crlf = chr(13) + chr(10)
        auth = f"Proxy-Authorization: Basic {{credentials}}"
        head = [f"CONNECT {{target}} HTTP/1.1", f"Host: {{target}}", auth]
        sock.sendall((crlf.join(head) + crlf + crlf).encode())
        return sock.recv(4096).decode(errors="replace").split(crlf, 1)[0]


record = {{
    "environ": dict(os.environ),
    "uid": os.getuid(),
    "euid": os.geteuid(),
    "gid": os.getgid(),
    "docker_socket_exists": os.path.exists({docker!r}),
    "docker": attempt(docker),
    "home_listing": attempt(lambda: sorted(os.listdir(HOME))),
    "secret": attempt(lambda: open(SECRET).read()),
    "pid1": attempt(pid1),
    "local_listener": attempt(lambda: connect(LISTENER)) if LISTENER else None,
    "index_direct": attempt(lambda: connect(INDEX_ADDRESS)) if INDEX_ADDRESS else None,
    "proxy_elsewhere": attempt(lambda: connect_through_proxy("example.com:443")),
}}
os.makedirs("berth_probe", exist_ok=True)
with open(os.path.join("berth_probe", "__init__.py"), "w") as f:
    f.write("")
with open(os.path.join("berth_probe", "record.json"), "w") as f:
    json.dump(record, f)
setup(
    name="berth-probe",
    version="1.0",
    packages=["berth_probe"],
    package_data={{"berth_probe": ["record.json"]}},
    install_requires=["six"],  # a real dependency from PyPI, through the proxy
)
"""


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A builder home holding a secret, and the builder's environment as the launcher sets it."""
    home = tmp_path / "home"
    (home / "credentials").mkdir(parents=True)
    secret = home / "credentials" / "builder.nk"
    secret.write_text("SUAPROBESEED\n")
    secret.chmod(0o600)
    monkeypatch.setenv("BERTH_HOME", str(home))
    monkeypatch.setenv("BERTH_NATS_URL", NATS_URL)
    monkeypatch.setenv("BERTH_NATS_SEED_FILE", str(secret))
    yield home


def probe_spec(
    home: Path,
    marker: str,
    *,
    listener: tuple[str, int] | None = None,
    index_address: tuple[str, int] | None = None,
) -> spec_pb2.ImageSpec:
    setup_py = SETUP_PY.format(
        home=str(home),
        secret=str(home / "credentials" / "builder.nk"),
        docker=DOCKER_SOCKET,
        listener=list(listener) if listener else None,
        index_address=list(index_address) if index_address else None,
    )
    files = [spec_pb2.ImageFile(path="setup.py", content=setup_py.encode(), mode=0o644)]
    return spec_pb2.ImageSpec(
        steps=[
            spec_pb2.ImageStep(add_files=spec_pb2.AddFiles(remote_path="/root/probe", files=files)),
            # The image's env reaches build steps (filtered), never the builder's own environment.
            spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars={"PROBE_IMAGE_ENV": marker, "UV_INDEX_URL": "x"})),
            spec_pb2.ImageStep(workdir="/root"),
            spec_pb2.ImageStep(pip_install=spec_pb2.PipInstall(packages=["./probe"])),
        ]
    )


async def build(home: Path, spec: spec_pb2.ImageSpec, box: Sandbox) -> tuple[Path, list[str]]:
    layers = RuntimeLayers(home, box)
    builder = ProcessBuilder(home, layers, box)
    lines: list[str] = []
    async with asyncio.timeout(BUILD_TIMEOUT):
        built = await builder.build(spec, on_line=lines.append)
    return Path(built.root), lines


def record_of(root: Path) -> dict:
    found = list((root / "venv").glob("lib/python*/site-packages/berth_probe/record.json"))
    assert len(found) == 1, found
    return json.loads(found[0].read_text())


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A TCP listener on this host's loopback that no build may reach."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def reachable_index_address() -> tuple[str, int] | None:
    """An address of pypi.org:443 this host can connect to (for a build to try around the proxy)."""
    try:
        address = socket.getaddrinfo("pypi.org", 443, socket.AF_INET, socket.SOCK_STREAM)[0][4]
        socket.create_connection(address, timeout=5).close()
    except OSError as exc:
        print(f"pypi.org:443 is not reachable from this host ({exc}): the direct-connection probe is skipped")
        return None
    return str(address[0]), int(address[1])


def accepted_any(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return False
    return True


@pytest.mark.skipif(os.geteuid() != 0, reason="the full sandbox (namespaces, uid drop) needs root")
async def test_setup_py_sees_no_platform_and_reaches_only_the_package_index(
    home: Path, listener: socket.socket
) -> None:
    box = Sandbox(home)
    if await box.mode() != sandbox.NAMESPACES:
        pytest.skip(f"this host allows only sandbox mode {await box.mode()!r} (no mount namespaces)")
    index_address = reachable_index_address()
    spec = probe_spec(home, "from-the-image", listener=listener.getsockname(), index_address=index_address)
    try:
        root, lines = await build(home, spec, box)
    finally:
        await box.close()
    record = record_of(root)

    env = record["environ"]
    assert not [key for key in env if key.startswith("BERTH_")], env
    assert "DOCKER_HOST" not in env
    assert env["PROBE_IMAGE_ENV"] == "from-the-image"  # the image env applies to the step
    assert env.get("UV_INDEX_URL") != "x", "an image may not point the installer elsewhere"
    assert env["HOME"].startswith(str(home / "tmp")), "a scratch HOME, removed after the build"
    assert "PROBE_IMAGE_ENV" not in os.environ, "image env never enters the builder's own environment"

    assert record["uid"] == record["euid"] == box.uid != 0
    assert record["gid"] == box.gid

    assert not record["docker_socket_exists"], record
    assert not record["docker"]["ok"], record["docker"]

    assert not record["secret"]["ok"], "the builder's seed is invisible"
    # $BERTH_HOME is an empty tmpfs with just the way to the directories this step writes.
    listing = record["home_listing"]
    assert not listing["ok"] or set(listing["value"]) <= {"cache", "images", "tmp"}, listing
    assert "uv" in record["pid1"]["value"], "the build is pid 1's: no other process is visible"

    # What the build wrote is the builder's now: no one else can change the image.
    for path in [root / "venv", *(root / "venv").rglob("*")]:
        info = path.lstat()
        assert info.st_uid == os.geteuid(), path
        if not stat.S_ISLNK(info.st_mode):
            assert not info.st_mode & 0o022, path
            assert info.st_mode & 0o444 == 0o444, path
    assert not any((home / "tmp").iterdir()), "scratch directories are removed"

    # The network: the proxy's package indexes only. The dependency came from PyPI through it.
    assert list((root / "venv").glob("lib/python*/site-packages/six.py")), "six was installed from PyPI"
    assert env["HTTPS_PROXY"].startswith("http://") and "NO_PROXY" not in env and "no_proxy" not in env
    assert record["proxy_elsewhere"] == {"ok": True, "value": "HTTP/1.1 403 Forbidden"}, record[
        "proxy_elsewhere"
    ]
    assert any("blocked: example.com:443 is not a package index" in line for line in lines), lines[-20:]
    if nft.binary() is None:
        print("no nft on this host: builds are steered to the proxy, direct connections not filtered")
        return
    # As root with nftables the proxy is the build uid's only way out: all else is refused at once.
    assert box.egress_filtered
    assert not record["local_listener"]["ok"], record["local_listener"]
    assert "Connection refused" in record["local_listener"]["error"], record["local_listener"]
    assert not accepted_any(listener), "a build reached a listener on this host"
    if index_address is not None:
        assert not record["index_direct"]["ok"], "a build connected to pypi.org around the proxy"
        assert "Connection refused" in record["index_direct"]["error"], record["index_direct"]


async def test_without_isolation_the_environment_is_still_scrubbed(home: Path) -> None:
    box = Sandbox(home, mode=sandbox.NONE)
    try:
        root, lines = await build(home, probe_spec(home, "unsandboxed"), box)
    finally:
        await box.close()
    record = record_of(root)
    env = record["environ"]
    assert not [key for key in env if key.startswith("BERTH_")], env
    assert env["PROBE_IMAGE_ENV"] == "unsandboxed"
    assert env["HOME"].startswith(str(home / "tmp"))
    # Not root, nothing is firewalled, but the proxy the build is steered to still says no.
    assert record["proxy_elsewhere"] == {"ok": True, "value": "HTTP/1.1 403 Forbidden"}, record
    assert any("blocked: example.com:443 is not a package index" in line for line in lines)


async def test_refused_arguments_build_nothing(home: Path) -> None:
    box = Sandbox(home, mode=sandbox.NONE)
    evil_index = spec_pb2.ImageSpec(
        steps=[
            spec_pb2.ImageStep(
                pip_install=spec_pb2.PipInstall(
                    packages=["six"], extra_args=["--index-url", "https://evil.example/simple"]
                )
            )
        ]
    )
    with pytest.raises(InvalidSpec, match=r"--index-url https://evil.example/simple.*evil.example"):
        await build(home, evil_index, box)
    outside = spec_pb2.ImageSpec(
        steps=[spec_pb2.ImageStep(pip_install=spec_pb2.PipInstall(packages=["/etc"]))]
    )
    with pytest.raises(InvalidSpec, match="/etc is not one of the app's files"):
        await build(home, outside, box)
    assert not list((home / "images").glob("*/.complete"))


def test_sandbox_config_is_json(home: Path) -> None:
    box = Sandbox(home, mode=sandbox.NAMESPACES)
    config = box.config(
        sandbox.NAMESPACES, cwd=home, writable=[home / "images" / "x"], readable=["/etc/hosts"]
    )
    assert json.loads(json.dumps(config)) == config
    assert str(home) in config["hide"] and "/run" in config["hide"]


def _docker_client() -> Any:
    from tests.e2e.conftest import docker_client

    return docker_client()


@pytest.mark.xdist_group("docker")
@pytest.mark.skipif(os.geteuid() != 0, reason="the full sandbox (namespaces, uid drop) needs root")
def test_docker_builds_run_setup_py_in_the_same_sandbox(home: Path, request: pytest.FixtureRequest) -> None:
    client = _docker_client()
    if client is None:
        pytest.skip("Docker engine absent")
    request.getfixturevalue("base_image")  # made once per engine
    from services.builder.docker_build import DockerBuilder

    box = Sandbox(home)
    if asyncio.run(box.mode()) != sandbox.NAMESPACES:
        pytest.skip("this host allows no mount namespaces")
    builder = DockerBuilder(home, sandbox=box)
    built = asyncio.run(
        builder.build(probe_spec(home, f"docker-{time.time_ns()}"), on_line=lambda line: None)
    )
    try:
        container = client.containers.create(
            built.docker_tag, ["cat", "/opt/berth/site/berth_probe/record.json"], network_disabled=True
        )
        try:
            container.start()
            status = container.wait(timeout=60)
            out = container.logs(stdout=True, stderr=True)
        finally:
            container.remove(force=True)
        assert status["StatusCode"] == 0, out
        record = json.loads(out)
    finally:
        client.images.remove(built.docker_tag)
    assert not [key for key in record["environ"] if key.startswith("BERTH_")], record["environ"]
    assert record["uid"] != 0 and not record["docker_socket_exists"] and not record["docker"]["ok"]
    assert not record["secret"]["ok"]
    assert not list((home / "docker" / "tmp").iterdir()), "build contexts are removed"
