"""The Docker runtime: each container is a Docker container of the image the builder made.

The runner inside talks to the agent only over its unix socket, bind-mounted into the container,
so containers need no published ports: several web_server containers listening on port 8000
coexist, each in its own network namespace on the default bridge (which lets user code call out).

    /berth/code              the code bundle (read-only)
    /berth/state             the container's state dir: boot order, HOME
    /berth/run/runner.sock   the agent's socket for this container

Every container is labelled with the agent's home (hashed), so an agent that starts, or exits,
removes whatever an earlier agent on the same home left behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import math
import re
import threading
from pathlib import Path
from typing import Any

from services.agent.runtime.base import Container, LaunchSpec

log = logging.getLogger("berth.agent")

CODE = "/berth/code"
STATE = "/berth/state"
SOCKET = "/berth/run/runner.sock"
LABEL_CONTAINER = "berth.container"
LABEL_AGENT = "berth.agent"
LABEL_OWNER = "berth.owner"
# The agent's environment that means nothing inside a container: the image sets its own PATH.
_HOST_ONLY = ("PATH", "TMPDIR")
_LOG_DRAIN_SECONDS = 2.0


def owner_label(home: Path) -> str:
    """Names the agent home that owns a container; stable across restarts of that agent."""
    return hashlib.sha256(str(home.expanduser().resolve()).encode()).hexdigest()[:16]


def container_name(container_id: str) -> str:
    return "berth-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", container_id)


def container_env(spec: LaunchSpec) -> dict[str, str]:
    """spec.env with the agent's paths replaced by where the container sees them."""
    env = {k: v for k, v in spec.env.items() if k not in _HOST_ONLY}
    boot = Path(spec.env.get("BERTH_BOOT", str(spec.state_dir / "boot.pb")))
    env.update(
        {
            "BERTH_SOCKET": SOCKET,
            "BERTH_CODE_DIR": CODE,
            "BERTH_BOOT": f"{STATE}/{boot.name}",
            "HOME": STATE,
        }
    )
    return env


def run_params(spec: LaunchSpec, *, owner: str, agent_id: str) -> dict[str, Any]:
    """Keyword arguments of `client.containers.run` for `spec`."""
    if not spec.image_tag:
        raise RuntimeError(
            "the image has no Docker tag: it was built for the process runtime. Run the scheduler "
            "with --runtime docker (BERTH_RUNTIME=docker) so its builds make Docker images"
        )
    socket = spec.env.get("BERTH_SOCKET", "")
    if not socket:
        raise RuntimeError("BERTH_SOCKET is not set: the agent gave the container no socket")
    python = spec.python if spec.python.startswith("/") else "python3"
    return {
        "image": spec.image_tag,
        "command": [python, "-m", "berth._runtime"],
        "name": container_name(spec.container_id),
        "environment": container_env(spec),
        "volumes": {
            str(spec.code_dir): {"bind": CODE, "mode": "ro"},
            str(spec.state_dir): {"bind": STATE, "mode": "rw"},
            socket: {"bind": SOCKET, "mode": "rw"},
        },
        "labels": {LABEL_CONTAINER: spec.container_id, LABEL_OWNER: owner, LABEL_AGENT: agent_id},
        "init": True,  # reaps the processes a web_server starts and forwards signals to the runner
        "detach": True,
        "stdin_open": False,
    }


def remove_leftovers(client: Any, owner: str) -> int:
    """Removes every container labelled with `owner`; returns how many there were."""
    import docker.errors

    removed = 0
    for summary in client.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={owner}"}):
        with contextlib.suppress(docker.errors.DockerException):
            client.api.remove_container(summary["Id"], force=True)
            removed += 1
    return removed


class DockerContainer:
    """A running container; three threads of its own block on Docker (log streams and the exit),
    so any number of containers never exhaust the event loop's default executor."""

    def __init__(self, container_id: str, container: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.container_id = container_id
        self._container = container
        self._loop = loop
        self.stdout = asyncio.StreamReader(limit=1 << 20)
        self.stderr = asyncio.StreamReader(limit=1 << 20)
        self._exit: asyncio.Future[int] = loop.create_future()
        self._pumps = [
            threading.Thread(target=self._pump, args=(self.stdout, True), daemon=True),
            threading.Thread(target=self._pump, args=(self.stderr, False), daemon=True),
        ]
        for pump in self._pumps:
            pump.start()
        threading.Thread(target=self._wait_and_remove, daemon=True).start()

    def _pump(self, reader: asyncio.StreamReader, stdout: bool) -> None:
        try:
            for chunk in self._container.logs(stream=True, follow=True, stdout=stdout, stderr=not stdout):
                self._loop.call_soon_threadsafe(reader.feed_data, chunk)
        except Exception:  # noqa: BLE001 - the container or the engine went away: the stream ends
            log.debug("log stream of %s ended", self.container_id, exc_info=True)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop may be closed at agent exit
                self._loop.call_soon_threadsafe(reader.feed_eof)

    def _wait_and_remove(self) -> None:
        code = self._blocking_wait()
        for pump in self._pumps:
            pump.join(_LOG_DRAIN_SECONDS)  # the container's last lines reach the logs first
        self._remove()
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._settle, code)

    def _settle(self, code: int) -> None:
        if not self._exit.done():
            self._exit.set_result(code)

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    def _blocking_wait(self) -> int:
        import docker.errors

        try:
            return int(self._container.wait().get("StatusCode", -1))
        except docker.errors.DockerException:
            return 137  # removed under us (docker rm -f): it was killed

    def _remove(self) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.DockerException):
            self._container.remove(force=True)

    async def terminate(self, grace: float) -> int:
        import docker.errors

        with contextlib.suppress(docker.errors.DockerException):
            await asyncio.to_thread(self._container.stop, timeout=max(0, math.ceil(grace)))
        return await self.wait()


class DockerRuntime:
    name = "docker"
    network_namespaces = True  # every container has its own: web_servers may share a port

    def __init__(self, *, home: Path, agent_id: str = "", client: Any = None) -> None:
        self._client = client if client is not None else _from_env()
        self.owner = owner_label(home)
        self._agent_id = agent_id
        removed = remove_leftovers(self._client, self.owner)
        if removed:
            log.warning("removed %d container(s) an earlier agent on %s left behind", removed, home)
        # Containers outlive an agent that exits without stopping them; sweep at exit too.
        atexit.register(remove_leftovers, self._client, self.owner)

    async def launch(self, spec: LaunchSpec) -> Container:
        params = run_params(spec, owner=self.owner, agent_id=self._agent_id)
        container = await asyncio.to_thread(self._client.containers.run, **params)
        return DockerContainer(spec.container_id, container, asyncio.get_running_loop())


def _from_env() -> Any:
    import docker
    import docker.errors

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise SystemExit(f"--runtime docker needs a Docker engine, and none answered: {exc}") from None
    return client
