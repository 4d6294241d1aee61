"""The builder end to end: a real nats-server, the builder as a subprocess, a real gRPC channel."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import pytest_asyncio

from berth.v1 import build_pb2, build_pb2_grpc, spec_pb2, state_pb2
from services.builder import interpreter, runtime_layer, spec_hash
from services.common import auth, bus, credentials, subjects
from services.scheduler.tokens import TokenStore
from tests.e2e.conftest import start_nats, stop_process

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
TOKEN_KEY = os.urandom(32)
BUILD_TIMEOUT = 600.0


def _stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    stop_process(proc)


@dataclass(frozen=True)
class Builder:
    address: str
    home: Path
    token: str
    log: Path


@dataclass(frozen=True)
class Nats:
    url: str
    home: Path  # the identities' seeds: credentials.seed_file(home, identity)

    def seed(self, identity: str) -> str:
        return str(credentials.seed_file(self.home, identity))


@pytest.fixture(scope="module")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nats]:
    home = tmp_path_factory.mktemp("nats")
    url, proc = start_nats(home)
    yield Nats(url, home)
    _stop(proc)


async def _admin_tokens(nats_server: Nats) -> tuple[Any, Any]:
    """The tokens bucket as `admin` (in a platform only the scheduler writes it)."""
    nc = await bus.connect(nats_server.url, "test", seed_file=nats_server.seed(credentials.ADMIN))
    return nc, await bus.key_value(nc.jetstream(), subjects.KV_TOKENS)


@pytest_asyncio.fixture(scope="module")
async def token(nats_server: Nats) -> str:
    """A token issued the way the scheduler issues them: a record signed with TOKEN_KEY."""
    nc, kv = await _admin_tokens(nats_server)
    try:
        return await TokenStore(kv, TOKEN_KEY).create("builder-e2e")
    finally:
        await nc.close()


def start_builder(
    nats_server: Nats, token: str, tmp: Path, env: dict[str, str] | None = None
) -> tuple[Builder, subprocess.Popen[bytes]]:
    """`python -m services.builder` on an OS-picked port; returns once it has written its ready file."""
    home, ready, log = tmp / "home", tmp / "ready", tmp / "builder.log"
    key_file = tmp / "token.key"
    key_file.write_text(TOKEN_KEY.hex())
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "services.builder", "--nats-url", nats_server.url, "--home", str(home)]
            + ["--nats-seed-file", nats_server.seed(credentials.BUILDER)]
            + ["--ready-file", str(ready)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BERTH_LOG_LEVEL": "INFO", "BERTH_TOKEN_KEY_FILE": str(key_file)}
            | (env or {}),
        )
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            _stop(proc)
            pytest.fail(f"builder did not become ready:\n{log.read_text()}")
        time.sleep(0.05)  # polling the readiness signal itself, under a deadline
    return Builder(ready.read_text().strip(), home, token, log), proc


def stop_builder(builder: Builder, proc: subprocess.Popen[bytes]) -> None:
    _stop(proc)
    assert proc.returncode == 0, builder.log.read_text()
    assert not (builder.log.parent / "ready").exists(), "the builder removes its ready file on a clean stop"


@pytest.fixture(scope="module")
def builder(nats_server: Nats, token: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Builder]:
    started, proc = start_builder(nats_server, token, tmp_path_factory.mktemp("builder"))
    yield started
    stop_builder(started, proc)


@pytest_asyncio.fixture(scope="module")
async def stub(builder: Builder) -> AsyncIterator[build_pb2_grpc.BuilderStub]:
    async with grpc.aio.insecure_channel(builder.address) as channel:
        yield build_pb2_grpc.BuilderStub(channel)


def pip_spec(*packages: str, **env: str) -> spec_pb2.ImageSpec:
    steps = [spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars=env))] if env else []
    steps.append(spec_pb2.ImageStep(pip_install=spec_pb2.PipInstall(packages=packages)))
    return spec_pb2.ImageSpec(steps=steps)


async def build(
    stub: build_pb2_grpc.BuilderStub, spec: spec_pb2.ImageSpec, token: str, runtime: str = "process"
) -> tuple[list[str], build_pb2.BuiltImage]:
    lines: list[str] = []
    image = None
    call = stub.Build(build_pb2.BuildRequest(image=spec, runtime=runtime), metadata=auth.call_metadata(token))
    async with asyncio.timeout(BUILD_TIMEOUT):
        async for event in call:
            if event.HasField("image"):
                image = event.image
            elif event.HasField("log_line"):  # detail lines (uv's own) are for --verbose only
                lines.append(event.log_line)
    assert image is not None, "the stream ends with the built image"
    return lines, image


def completed_roots(home: Path) -> set[str]:
    return {p.parent.name for p in (home / "images").glob("*/.complete")}


async def test_build_installs_and_links_runtime_layer(
    stub: build_pb2_grpc.BuilderStub, builder: Builder
) -> None:
    lines, image = await build(stub, pip_spec("six"), builder.token)

    assert not image.cache_hit
    assert image.installed == 1
    assert any("six" in line for line in lines), lines
    assert any(line.startswith("installed 1 package in ") for line in lines), lines
    # Nothing shown by default names a path inside the platform (uv's "Activate with: ..." did).
    assert not [line for line in lines if str(builder.home) in line or "Activate with" in line], lines
    assert image.root == str(builder.home / "images" / image.image_id)
    check = (
        "import six, berth, google.protobuf, importlib.util; "
        "print(berth.__path__[0]); print(importlib.util.find_spec('berth._runtime') is not None)"
    )
    out = await asyncio.to_thread(
        subprocess.run, [image.python, "-c", check], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.returncode == 0, out.stderr
    berth_dir, has_runtime = out.stdout.split()
    assert berth_dir.startswith(str(builder.home / "runtime")), "berth comes from the runtime layer"
    if (runtime_layer.package_dir() / "_runtime").exists():
        assert has_runtime == "True", "berth._runtime is reachable through the runtime layer"


async def test_second_build_is_a_cache_hit(stub: build_pb2_grpc.BuilderStub, builder: Builder) -> None:
    _, first = await build(stub, pip_spec("six"), builder.token)
    lines, again = await build(stub, pip_spec("six"), builder.token)

    assert again.cache_hit and again.installed == 0
    assert again.image_id == first.image_id and again.python == first.python
    assert lines == []


async def test_concurrent_builds_of_one_image_install_once(
    stub: build_pb2_grpc.BuilderStub, builder: Builder
) -> None:
    spec = pip_spec("six", BERTH_TEST=str(time.time_ns()))  # an image nobody built yet
    results = await asyncio.gather(*(build(stub, spec, builder.token) for _ in range(2)))

    assert sorted(image.cache_hit for _, image in results) == [False, True]
    assert {image.image_id for _, image in results} == {results[0][1].image_id}


async def test_missing_package_fails_and_caches_nothing(
    stub: build_pb2_grpc.BuilderStub, builder: Builder
) -> None:
    spec = pip_spec("berth-no-such-package-zzz")
    before = completed_roots(builder.home)

    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await build(stub, spec, builder.token)

    assert failure.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    message = failure.value.details() or ""
    assert message.splitlines()[0] == "image build failed: pip_install(berth-no-such-package-zzz)"
    assert "berth-no-such-package-zzz" in "\n".join(message.splitlines()[1:])
    assert completed_roots(builder.home) == before
    chosen = interpreter.select("")
    layer = runtime_layer.RuntimeLayers(builder.home).describe(chosen)
    image_id = spec_hash.image_id(spec, runtime="process", layer_id=layer.layer_id)
    assert not (builder.home / "images" / image_id / ".complete").exists()


async def test_call_without_token_is_unauthenticated(stub: build_pb2_grpc.BuilderStub) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await build(stub, pip_spec("six"), token="")
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_a_record_not_signed_with_the_token_key_is_refused(
    nats_server: Nats, stub: build_pb2_grpc.BuilderStub
) -> None:
    """Writing the tokens bucket is not enough to make a token: its record must carry the MAC."""
    forged = auth.new_token()
    nc, kv = await _admin_tokens(nats_server)
    try:
        record = state_pb2.TokenRecord(name="forged", mac=auth.token_mac(os.urandom(32), forged))
        await kv.put(auth.token_id(forged), record.SerializeToString())
    finally:
        await nc.close()
    with pytest.raises(grpc.aio.AioRpcError) as failure:
        await build(stub, pip_spec("six"), token=forged)
    assert failure.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_unavailable_python_and_docker_runtime_are_refused(
    stub: build_pb2_grpc.BuilderStub, builder: Builder
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as bad_python:
        await build(stub, spec_pb2.ImageSpec(python_version="3.1"), builder.token)
    assert bad_python.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "python_version 3.1 is not available on this host" in (bad_python.value.details() or "")

    # Docker images run the base image's python3 (3.11); the check needs no Docker engine.
    with pytest.raises(grpc.aio.AioRpcError) as docker:
        await build(stub, spec_pb2.ImageSpec(python_version="3.12"), builder.token, runtime="docker")
    assert docker.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not available on the docker runtime" in (docker.value.details() or "")


async def test_build_that_exceeds_the_timeout_is_stopped_and_reported(
    nats_server: Nats, token: str, tmp_path: Path
) -> None:
    # A package index that accepts connections and never answers: uv hangs until the build timeout.
    silent = socket.create_server(("127.0.0.1", 0))
    index = f"http://127.0.0.1:{silent.getsockname()[1]}/simple"
    # The operator allows this index (builds may use only allowed package indexes).
    # The timeout leaves room for the fresh home's runtime layer (downloaded, pip and setuptools
    # included) before the step that hangs.
    allowed = {"BERTH_BUILD_TIMEOUT": "20", "BERTH_BUILD_ALLOWED_INDEXES": "127.0.0.1"}
    started, proc = start_builder(nats_server, token, tmp_path, env=allowed)
    try:
        async with grpc.aio.insecure_channel(started.address) as channel:
            spec = spec_pb2.ImageSpec(
                steps=[
                    spec_pb2.ImageStep(
                        pip_install=spec_pb2.PipInstall(packages=["six"], extra_args=["--index-url", index])
                    )
                ]
            )
            with pytest.raises(grpc.aio.AioRpcError) as failure:
                await build(build_pb2_grpc.BuilderStub(channel), spec, token)
        assert failure.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert "timed out after 20s (BERTH_BUILD_TIMEOUT) at: step 1/1: pip_install(six" in (
            failure.value.details() or ""
        )
        assert completed_roots(started.home) == set()
        assert not [p for p in (started.home / "images").iterdir() if p.is_dir()], "the half image is wiped"
    finally:
        silent.close()
        stop_builder(started, proc)
