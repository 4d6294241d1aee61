"""The Docker runtime: each container is a hardened Docker container of the image the builder made.

Hardening, the same for every container (docker_params.py): a non-root user (65534, or the
agent's own uid when the agent is not root), no capabilities, no-new-privileges, a read-only root
file system with a tmpfs on /tmp, no IPv6, a private IPC namespace, pids, memory and CPU limits
(the function's `memory=` and `cpu=`, or defaults), host directories of its own (its slot), and
the owner's app network (docker_network.py: no traffic between containers, none to the host). The
runner talks to the agent only over its socket, so nothing is published and any number of
web_server containers listen on port 8000 side by side.

A container killed for going over its memory limit reports it: its `exit_reason` says "out of
memory, limit N MiB" (short, with no ": ", so it survives into the summary a client is shown), and
a line on its stderr explains it in `berth app logs`.

Cold starts are served from a pool of pre-started containers when one fits (docker_pool.py);
every container is labelled with the agent's home (hashed), so an agent that starts, or exits,
removes whatever an earlier agent on the same home left behind.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import math
import os
import re
import shutil
import threading
from pathlib import Path
from typing import Any

from services.agent.runtime.base import Capabilities, Container, Isolation, LaunchSpec
from services.agent.runtime.docker_network import AppNetwork, Firewall, ensure_network, remove_network
from services.agent.runtime.docker_params import (
    SLOTS_RUN_DIR,
    Limits,
    Slot,
    app_user,
    command_of,
    container_env,
    limits_of,
    run_params,
    socket_of,
)
from services.agent.runtime.docker_pool import Pool, PoolKey, Prestarted, bootstrap_command
from services.common import logs

log = logging.getLogger("berth.agent")

LABEL_CONTAINER = "berth.container"
LABEL_AGENT = "berth.agent"
LABEL_OWNER = "berth.owner"
LABEL_POOL = "berth.pool"
_LOG_DRAIN_SECONDS = 2.0


def owner_label(home: Path) -> str:
    """Names the agent home that owns a container; stable across restarts of that agent."""
    return hashlib.sha256(str(home.expanduser().resolve()).encode()).hexdigest()[:16]


def container_name(container_id: str) -> str:
    return "berth-" + re.sub(r"[^a-zA-Z0-9_.-]", "-", container_id)


def remove_leftovers(client: Any, owner: str) -> int:
    """Removes every container labelled with `owner`; returns how many there were."""
    import docker.errors

    removed = 0
    for summary in client.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={owner}"}):
        with contextlib.suppress(docker.errors.DockerException):
            client.api.remove_container(summary["Id"], force=True)
            removed += 1
    return removed


def out_of_memory_message(limits: Limits) -> str:
    return (
        f"out of memory: the container went over its memory limit of {limits.memory_mib} MiB and was "
        "killed (raise it with memory= on the function)"
    )


class DockerContainer:
    """A running container; three threads of its own block on Docker (log streams and the exit),
    so any number of containers never exhaust the event loop's default executor."""

    def __init__(
        self,
        container_id: str,
        api: Any,
        docker_id: str,
        loop: asyncio.AbstractEventLoop,
        *,
        slot: Slot,
        limits: Limits,
    ) -> None:
        self.container_id = container_id
        self.exit_reason = ""
        self._api = api
        self._id = docker_id
        self._loop = loop
        self._slot = slot
        self._limits = limits
        self.stdout = asyncio.StreamReader(limit=1 << 20)
        self.stderr = asyncio.StreamReader(limit=1 << 20)
        self._ended: set[asyncio.StreamReader] = set()
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
            for chunk in self._api.logs(self._id, stream=True, follow=True, stdout=stdout, stderr=not stdout):
                self._call(self._feed, reader, chunk)
        except Exception:  # noqa: BLE001 - the container or the engine went away: the stream ends
            log.debug("log stream of %s ended", self.container_id, exc_info=True)

    def _call(self, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop may be closed at agent exit
            self._loop.call_soon_threadsafe(*args)

    def _feed(self, reader: asyncio.StreamReader, data: bytes) -> None:
        if reader not in self._ended:
            reader.feed_data(data)

    def _end(self, reader: asyncio.StreamReader) -> None:
        if reader not in self._ended:
            self._ended.add(reader)
            reader.feed_eof()

    def _wait_and_remove(self) -> None:
        code = self._blocking_wait()
        for pump in self._pumps:
            pump.join(_LOG_DRAIN_SECONDS)  # the container's last lines reach the logs first
        if self._out_of_memory():
            self.exit_reason = f"out of memory, limit {self._limits.memory_mib} MiB"
            self._call(self._feed, self.stderr, f"berth: {out_of_memory_message(self._limits)}\n".encode())
        self._call(self._end, self.stdout)
        self._call(self._end, self.stderr)
        self._remove()
        self._slot.remove()
        self._call(self._settle, code)

    def _settle(self, code: int) -> None:
        if self.exit_reason:
            logs.event(log, "container out of memory", logging.WARNING, container=self.container_id)
        if not self._exit.done():
            self._exit.set_result(code)

    async def wait(self) -> int:
        return await asyncio.shield(self._exit)

    def _blocking_wait(self) -> int:
        import docker.errors

        try:
            return int(self._api.wait(self._id).get("StatusCode", -1))
        except docker.errors.DockerException:
            return 137  # removed under us (docker rm -f): it was killed

    def _out_of_memory(self) -> bool:
        import docker.errors

        try:
            return bool(self._api.inspect_container(self._id)["State"].get("OOMKilled"))
        except (docker.errors.DockerException, KeyError):
            return False

    def _remove(self) -> None:
        import docker.errors

        with contextlib.suppress(docker.errors.DockerException):
            self._api.remove_container(self._id, force=True)

    async def terminate(self, grace: float) -> int:
        import docker.errors

        with contextlib.suppress(docker.errors.DockerException):
            await asyncio.to_thread(self._api.stop, self._id, timeout=max(0, math.ceil(grace)))
        return await self.wait()


class DockerRuntime:
    name = "docker"
    # Every container has a network namespace of its own, so web_servers may share a port.
    capabilities = Capabilities(
        isolation=Isolation.CONTAINER, network_namespaces=True, outbound_network=True, resource_limits=True
    )

    def __init__(
        self, *, home: Path, agent_id: str = "", client: Any = None, pool_size: int | None = None
    ) -> None:
        self._client = client if client is not None else _from_env()
        self.owner = owner_label(home)
        self._agent_id = agent_id
        self._slots = home / "agent" / (agent_id or "docker") / "docker-slots"
        self._user = app_user()
        # The agent's socket directory: slots' run directories live there (known at the first launch).
        self._sockets: Path | None = None
        self.network = AppNetwork.for_owner(self.owner)
        removed = remove_leftovers(self._client, self.owner)
        if removed:
            log.warning("removed %d container(s) an earlier agent on %s left behind", removed, home)
        shutil.rmtree(self._slots, ignore_errors=True)
        ensure_network(self._client, self.network, self.owner)
        self.firewall = Firewall(self.network)
        self.firewall.install()
        if pool_size is None:
            pool_size = int(os.environ.get("BERTH_DOCKER_POOL", "1") or "0")
        self._pool = Pool(start=self._prestart, discard=self._discard_prestarted, size=pool_size)
        self._closed = False
        # Containers outlive an agent that exits without stopping them; sweep at exit too.
        atexit.register(self._cleanup)

    async def launch(self, spec: LaunchSpec) -> Container:
        command = command_of(spec)
        limits = limits_of(spec)
        env = container_env(spec)
        sockets = self._sockets = Path(socket_of(spec)).parent
        key = PoolKey.of(spec.image_tag, spec.python, limits, env)
        loop = asyncio.get_running_loop()
        prestarted = await self._pool.take(key)
        if prestarted is not None:
            try:
                await asyncio.to_thread(prestarted.slot.fill, spec, *self._user)
                prestarted.specialise(env)
            except Exception:  # noqa: BLE001 - a fresh container instead; this one is unusable
                log.warning("pre-started container unusable; starting a fresh one", exc_info=True)
                self._discard_prestarted(prestarted)
            else:
                self._pool.refill(key)
                logs.event(log, "container launched", container=spec.container_id, prestarted="yes")
                self._rename_later(prestarted.docker_id, container_name(spec.container_id))
                return DockerContainer(
                    spec.container_id,
                    self._client.api,
                    prestarted.docker_id,
                    loop,
                    slot=prestarted.slot,
                    limits=limits,
                )
        slot = await asyncio.to_thread(Slot.make, self._slots, sockets, *self._user)
        try:
            await asyncio.to_thread(slot.fill, spec, *self._user)
            params = run_params(
                image=spec.image_tag,
                command=command,
                env=env,
                name=container_name(spec.container_id),
                labels=self._labels(LABEL_CONTAINER, spec.container_id),
                slot=slot,
                limits=limits,
                network=self.network.name,
                user=self._user,
            )
            docker_id = await asyncio.to_thread(self._create_and_start, params)
        except BaseException:
            slot.remove()
            raise
        self._pool.refill(key)
        logs.event(log, "container launched", container=spec.container_id, prestarted="no")
        return DockerContainer(spec.container_id, self._client.api, docker_id, loop, slot=slot, limits=limits)

    def _labels(self, key: str, value: str) -> dict[str, str]:
        return {key: value, LABEL_OWNER: self.owner, LABEL_AGENT: self._agent_id}

    def _create_and_start(self, params: dict[str, Any]) -> str:
        api = self._client.api
        params = dict(params, host_config=api.create_host_config(**params["host_config"]))
        docker_id = str(api.create_container(**params)["Id"])
        try:
            api.start(docker_id)
        except BaseException:
            api.remove_container(docker_id, force=True)
            raise
        return docker_id

    async def _prestart(self, key: PoolKey) -> Prestarted:
        """Starts a container of `key` that waits, pre-imported, to be given a container's identity."""
        if self._sockets is None:
            raise RuntimeError("no container was launched yet: the agent's socket directory is unknown")
        slot = await asyncio.to_thread(Slot.make, self._slots, self._sockets, *self._user)
        try:
            fifo = await asyncio.to_thread(Prestarted.make_fifo, slot.run, *self._user)
            params = run_params(
                image=key.image,
                command=bootstrap_command(key.python),
                env=dict(key.startup_env),
                name=f"berth-pool-{self.owner[:8]}-{slot.root.name[:8]}",
                labels=self._labels(LABEL_POOL, key.digest()),
                slot=slot,
                limits=key.limits,
                network=self.network.name,
                user=self._user,
            )
            docker_id = await asyncio.to_thread(self._create_and_start, params)
        except BaseException:
            slot.remove()
            raise
        prestarted = Prestarted(docker_id=docker_id, slot=slot, fifo=fifo)
        loop = asyncio.get_running_loop()
        threading.Thread(target=self._watch_prestarted, args=(prestarted, loop), daemon=True).start()
        return prestarted

    def _watch_prestarted(self, prestarted: Prestarted, loop: asyncio.AbstractEventLoop) -> None:
        """Tells the pool when a pre-started container exits (with its last output if it was never
        taken: that is why its kind cannot be pre-started)."""
        import docker.errors

        with contextlib.suppress(docker.errors.DockerException):
            self._client.api.wait(prestarted.docker_id)
        last_words = ""
        if not prestarted.taken:
            with contextlib.suppress(docker.errors.DockerException):
                tail = self._client.api.logs(prestarted.docker_id, tail=5)
                last_words = tail.decode(errors="replace").strip().replace("\n", " | ")
        with contextlib.suppress(RuntimeError):  # the loop may be closed at agent exit
            loop.call_soon_threadsafe(self._pool.ended, prestarted, last_words)

    def _discard_prestarted(self, prestarted: Prestarted) -> None:
        import docker.errors

        def remove() -> None:
            with contextlib.suppress(docker.errors.DockerException):
                self._client.api.remove_container(prestarted.docker_id, force=True)
            prestarted.slot.remove()

        threading.Thread(target=remove, daemon=True).start()

    def _rename_later(self, docker_id: str, name: str) -> None:
        """Names a pre-started container after the container it became (for `docker ps`), off the
        start-up path."""
        import docker.errors

        def rename() -> None:
            with contextlib.suppress(docker.errors.DockerException):
                self._client.api.rename(docker_id, name)

        threading.Thread(target=rename, daemon=True).start()

    async def close(self) -> None:
        """Removes what the runtime made: pre-started containers, the app network, the firewall.
        The agent stops the containers first."""
        await self._pool.close()
        await asyncio.to_thread(self._cleanup)

    def _cleanup(self) -> None:
        if self._closed:
            return
        self._closed = True
        remove_leftovers(self._client, self.owner)
        remove_network(self._client, self.network)
        self.firewall.remove()
        shutil.rmtree(self._slots, ignore_errors=True)
        if self._sockets is not None:
            shutil.rmtree(self._sockets / SLOTS_RUN_DIR, ignore_errors=True)


def _from_env() -> Any:
    import docker
    import docker.errors

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise SystemExit(f"--runtime docker needs a Docker engine, and none answered: {exc}") from None
    return client
