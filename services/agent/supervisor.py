"""Boots, watches and stops the containers of this host."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nats.aio.client import Client

from berth import _spec_rules as spec_rules
from berth.v1 import bus_pb2, spec_pb2, stream_pb2
from services.agent.admission import Admission
from services.agent.bridge import Bridge
from services.agent.bundles import BundleCache
from services.agent.callers import MAX_CALLS
from services.agent.logs import LogSink
from services.agent.runtime import Container, Runtime
from services.agent.runtime.base import launch_spec
from services.common import bus, ids, logs, subjects, tracing

log = logging.getLogger("berth.agent")

_STOP_GRACE = 10.0


@dataclass
class Running:
    order: bus_pb2.BootOrder
    bridge: Bridge
    container: Container | None = None
    stopping: bool = False
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    sink: LogSink | None = None


class Supervisor:
    def __init__(
        self,
        nc: Client,
        agent_id: str,
        runtime: Runtime,
        bundles: BundleCache,
        home: Path,
        *,
        images: Path,
        max_calls: int = MAX_CALLS,
    ) -> None:
        self._nc = nc
        self._max_calls = max_calls  # function calls each container may have open (callers.py)
        self.agent_id = agent_id
        self._runtime = runtime
        self._bundles = bundles
        # Container state dirs hold each container's boot order and HOME: this user's only.
        self._home = private_dir(home)
        self._admission = Admission(runtime=runtime.name, images=images)
        # Unix socket paths are limited to 108 bytes, so sockets live in a short temporary dir. It is
        # private: whoever connects to a container's socket first is taken for its runner. An
        # isolated container sees only its own socket there, owned by its uid (the runtime's doing).
        self._sockets = private_dir(Path(_short_tmp()) / f"berth-{agent_id}")
        self.running: dict[str, Running] = {}
        self._tracer = tracing.setup("agent")

    async def boot(self, order: bus_pb2.BootOrder) -> bus_pb2.BootResult:
        started = time.monotonic()
        cid = order.container_id
        refusal = self._refusal(order)
        if refusal:
            return bus_pb2.BootResult(container_id=cid, error=refusal)
        data_subject = subjects.container_data(self.agent_id, cid)
        with self._tracer.start_as_current_span("agent.boot", attributes={"container": cid}):
            bridge = Bridge(
                self._nc, cid, data_subject, agent_id=self.agent_id, app_key=order.pool.app,
                max_calls=self._max_calls,
            )  # fmt: skip
            entry = Running(order=order, bridge=bridge)
            self.running[cid] = entry
            try:
                error = await self._start(entry)
            except Exception as exc:  # noqa: BLE001 - any failure becomes the boot's answer
                log.exception("boot failed")
                error = f"the agent could not start the container: {exc}"
            if error:
                await self._discard(cid, error)
                return bus_pb2.BootResult(container_id=cid, error=error)
        seconds = time.monotonic() - started
        logs.event(log, "container ready", container=cid, seconds=f"{seconds:.3f}")
        return bus_pb2.BootResult(container_id=cid, data_subject=data_subject, boot_seconds=seconds)

    def _refusal(self, order: bus_pb2.BootOrder) -> str:
        """Why `order` is refused before anything is touched, logged; "" when it is acceptable."""
        try:
            self._admission.boot(order)
        except ids.InvalidId as exc:
            logs.event(log, "boot order refused", logging.WARNING, field=exc.field, reason=str(exc))
            return f"refused: {exc}"
        if order.container_id in self.running:
            # A second order for a running id would replace its entry, and its failure stop the first.
            logs.event(
                log, "boot order refused", logging.WARNING, container=order.container_id, reason="in use"
            )
            return f"refused: container id {order.container_id} is already in use on agent {self.agent_id}"
        return ""

    def _state_dir(self, container_id: str) -> Path:
        # Checked again here: this directory is created, and removed whole when the container ends.
        return self._home / "containers" / ids.container_id(container_id)

    def _port_taken(self, order: bus_pb2.BootOrder) -> str:
        """Without network namespaces, two web_servers on one port would collide: name the holder."""
        if order.function.web.kind != spec_pb2.WEB_KIND_WEB_SERVER:
            return ""
        if self._runtime.capabilities.network_namespaces:
            return ""
        for cid, other in self.running.items():
            web = other.order.function.web
            if (
                cid != order.container_id
                and web.kind == spec_pb2.WEB_KIND_WEB_SERVER
                and web.port == order.function.web.port
            ):
                return (
                    f"port {web.port} is already used by container {cid} on agent {self.agent_id}, "
                    "and this agent cannot give containers their own network "
                    "(network namespaces need root or CAP_SYS_ADMIN)"
                )
        return ""

    async def _start(self, entry: Running) -> str:
        order = entry.order
        cid = order.container_id
        taken = self._port_taken(order)
        if taken:
            return taken
        code_dir = await self._bundles.extracted(order.bundle_id)
        state_dir = private_dir(self._state_dir(cid))
        boot_file = state_dir / "boot.pb"
        write_private(boot_file, boot_file_contents(order))
        socket_path = self._sockets / f"{cid}.sock"
        connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )

        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if connected.done():
                writer.close()  # only the container's own runner may talk on its socket
                return
            connected.set_result((reader, writer))

        server = await asyncio.start_unix_server(on_connect, path=str(socket_path))
        spec = launch_spec(
            order, code_dir=code_dir, state_dir=state_dir, boot_file=boot_file, socket_path=socket_path
        )
        entry.sink = LogSink(
            self._nc,
            app_key=order.pool.app,
            function=order.function.name,
            container_id=cid,
            params=order.pool.params,
        )
        container = await self._runtime.launch(spec)
        entry.container = container
        entry.tasks.append(asyncio.create_task(entry.sink.pump(container.stdout, "stdout")))
        entry.tasks.append(asyncio.create_task(entry.sink.pump(container.stderr, "stderr")))
        exited: asyncio.Future[int] = asyncio.create_task(container.wait())
        timeout = spec_rules.boot_budget(order.function)  # a web server's wait for its port on top
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            waiting: set[asyncio.Future[Any]] = {exited, connected}
            done, _ = await asyncio.wait(waiting, timeout=timeout, return_when="FIRST_COMPLETED")
            if exited in done:
                return await self._exit_message(entry, exited.result(), "before it was ready")
            if not done:
                return f"the container did not start within {timeout:.0f}s (startup_timeout)"
            reader, writer = connected.result()
            pump = entry.bridge.attach(reader, writer)
            remaining = max(0.1, deadline - loop.time())
            waiting = {exited, entry.bridge.started}
            done, _ = await asyncio.wait(waiting, timeout=remaining, return_when="FIRST_COMPLETED")
            if entry.bridge.started in done:
                first = entry.bridge.started.result()
                if first.WhichOneof("kind") == "failed":
                    await entry.sink.line("system", first.failed.message)
                    return first.failed.message
                entry.tasks.append(pump)
                entry.tasks.append(asyncio.create_task(self._watch(entry, exited)))
                await entry.sink.line("system", f"container {cid} started")
                return ""
            if exited in done:
                return await self._exit_message(entry, exited.result(), "before it was ready")
            return f"the container did not become ready within {timeout:.0f}s (startup_timeout)"
        finally:
            server.close()
            with contextlib.suppress(FileNotFoundError):
                socket_path.unlink()

    async def _exit_message(self, entry: Running, code: int, when: str) -> str:
        # Give the log pumps the container's last words before describing the failure.
        await asyncio.wait(entry.tasks, timeout=1.0)
        return f"the container exited with code {code}{_reason(entry)} {when}; see `berth app logs`"

    async def _watch(self, entry: Running, exited: asyncio.Future[int]) -> None:
        code = await exited
        cid = entry.order.container_id
        if entry.stopping:
            return
        message = f"the container exited with code {code}{_reason(entry)} while handling requests"
        logs.event(log, "container exited", logging.WARNING, container=cid, code=code)
        await entry.bridge.fail_all(502, message)
        if entry.sink is not None:
            await entry.sink.line("system", message)
        await self._discard(cid, message)
        await bus.publish(
            self._nc,
            subjects.CONTAINER_EXITED,
            bus_pb2.ContainerExited(
                agent_id=self.agent_id, container_id=cid, exit_code=code, message=message
            ),
        )

    async def stop(self, container_id: str, reason: str) -> int:
        try:
            ids.container_id(container_id)
        except ids.InvalidId as exc:
            # Answered like an unknown container (StopResult has no error field): nothing runs there.
            logs.event(log, "stop order refused", logging.WARNING, reason=str(exc))
            return 0
        entry = self.running.get(container_id)
        if entry is None:
            return 0
        entry.stopping = True
        code = 0
        if entry.container is not None:
            entry.bridge.send_control(
                stream_pb2.Frame(shutdown=stream_pb2.RunnerShutdown(grace_seconds=_STOP_GRACE))
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.container.wait(), _STOP_GRACE)
            # Ends it if it did not end in time, and whatever it left behind either way.
            code = await entry.container.terminate(grace=2.0)
            if entry.sink is not None:
                await asyncio.wait(entry.tasks, timeout=1.0)
                await entry.sink.line(
                    "system", f"container {container_id} stopped ({reason}), exit code {code}"
                )
        await entry.bridge.fail_all(503, f"the container was stopped ({reason})")
        await self._discard(container_id, "")
        return code

    async def _discard(self, container_id: str, error: str) -> None:
        entry = self.running.pop(container_id, None)
        if entry is None:
            return
        if entry.container is not None and not entry.stopping:
            entry.stopping = True
            await entry.container.terminate(grace=2.0)
        for task in entry.tasks:
            if task is not asyncio.current_task():
                task.cancel()
        shutil.rmtree(self._state_dir(container_id), ignore_errors=True)

    async def stop_all(self) -> None:
        await asyncio.gather(*(self.stop(cid, "agent shutting down") for cid in list(self.running)))

    def statuses(self) -> list[bus_pb2.ContainerStatus]:
        now = time.monotonic()
        out = []
        for cid, entry in self.running.items():
            if entry.container is None or entry.stopping or not entry.bridge.started.done():
                continue
            inflight = entry.bridge.inflight
            idle_ms = 0 if inflight else int((now - entry.bridge.idle_since) * 1000)
            out.append(
                bus_pb2.ContainerStatus(
                    container_id=cid, pool=entry.order.pool, inflight=inflight, idle_ms=idle_ms
                )
            )
        return out

    def bridge_for(self, container_id: str) -> Bridge | None:
        entry = self.running.get(container_id)
        return entry.bridge if entry is not None else None


def boot_file_contents(order: bus_pb2.BootOrder) -> bytes:
    """The boot order as the runner reads it, without `env`: that holds decrypted secret values,
    which reach the container through its process environment and must not sit in a file."""
    copy = bus_pb2.BootOrder()
    copy.CopyFrom(order)
    copy.ClearField("env")
    return copy.SerializeToString()


def private_dir(path: Path) -> Path:
    """`path`, created if needed, readable by this user only; refused if another user owns it
    (someone could have made /tmp/berth-<agent id> first to watch or take the sockets)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if info.st_uid != os.getuid() or not stat.S_ISDIR(info.st_mode):
        raise PermissionError(f"{path} is not a directory of this user's")
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Writes `path` with mode 0600, never through a symlink planted in its place."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
        os.write(fd, data)
    finally:
        os.close(fd)


def _short_tmp() -> str:
    return "/tmp" if os.path.isdir("/tmp") else os.environ.get("TMPDIR", ".")


def _reason(entry: Running) -> str:
    """ " (why)" when the runtime knows why the container ended ("out of memory, limit 128 MiB")."""
    reason = entry.container.exit_reason if entry.container is not None else ""
    return f" ({reason})" if reason else ""
