"""The process runtime: each container is a process group of its own, running the image's
virtualenv interpreter. No isolation beyond a process group; good for a laptop and for CI.

Containers are forked from a zygote of their image (a pre-imported interpreter, see zygote.py);
a container starts as a fresh interpreter, a child of the agent, when no zygote can serve it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

from services.agent.runtime import netns
from services.agent.runtime.base import Container, LaunchSpec
from services.agent.runtime.zygote import ZygoteContainer, Zygotes, ZygoteUnavailable, shadowing, startup_env
from services.common import logs

log = logging.getLogger("berth.agent")
_PIPE_LIMIT = 1 << 20


class ProcessContainer:
    def __init__(self, container_id: str, process: asyncio.subprocess.Process) -> None:
        self.container_id = container_id
        self._process = process
        assert process.stdout is not None and process.stderr is not None
        self.stdout: asyncio.StreamReader = process.stdout
        self.stderr: asyncio.StreamReader = process.stderr

    async def wait(self) -> int:
        return await self._process.wait()

    async def terminate(self, grace: float) -> int:
        # The whole process group: servers the user started (web_server) must end with it.
        self._signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self._process.wait(), grace)
        except TimeoutError:
            self._signal(signal.SIGKILL)
            return await self._process.wait()

    def kill_group(self) -> None:
        """Kills whatever is left of the group, children that outlived the runner included."""
        self._signal(signal.SIGKILL)

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, sig)


def _own_session() -> None:
    os.setsid()


def _own_session_and_network() -> None:
    os.setsid()
    netns.enter_new_network_namespace()


class ProcessRuntime:
    name = "process"

    def __init__(self, *, network_namespaces: bool, zygotes: bool = True) -> None:
        self.network_namespaces = network_namespaces
        self._zygotes = Zygotes() if zygotes else None

    async def launch(self, spec: LaunchSpec) -> Container:
        isolate = spec.isolate_network and self.network_namespaces
        if self._zygotes is not None:
            try:
                forked = await self._fork(self._zygotes, spec, isolate=isolate)
            except ZygoteUnavailable as exc:
                logs.event(
                    log,
                    "zygote could not fork; starting a fresh interpreter",
                    logging.WARNING,
                    container=spec.container_id,
                    reason=str(exc),
                )
            else:
                if forked is not None:
                    return forked
        return await self._spawn(spec, isolate=isolate)

    async def _fork(self, zygotes: Zygotes, spec: LaunchSpec, *, isolate: bool) -> Container | None:
        zygote = await zygotes.get(spec.python, startup_env(spec.env))
        if zygote is None:
            return None
        paths = [str(spec.cwd), str(spec.code_dir), *spec.env.get("PYTHONPATH", "").split(os.pathsep)]
        shadow = shadowing(filter(None, paths), zygote.modules)
        if shadow:
            logs.event(
                log,
                "container code shadows a preloaded module; starting a fresh interpreter",
                container=spec.container_id,
                path=shadow,
            )
            return None
        loop = asyncio.get_running_loop()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            pid, exited = await zygote.fork(
                spec.env, str(spec.cwd), isolate_network=isolate, fds=(devnull, out_w, err_w)
            )
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            for fd in (devnull, out_w, err_w):
                os.close(fd)
        stdout = await _read_pipe(loop, out_r)
        stderr = await _read_pipe(loop, err_r)
        return ZygoteContainer(spec.container_id, pid, exited, stdout, stderr)

    async def _spawn(self, spec: LaunchSpec, *, isolate: bool) -> Container:
        process = await asyncio.create_subprocess_exec(
            spec.python,
            "-m",
            "berth._runtime",
            env=spec.env,
            cwd=str(spec.cwd),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # A session of its own, so stopping the container can signal everything it started.
            preexec_fn=_own_session_and_network if isolate else _own_session,  # noqa: PLW1509
            limit=_PIPE_LIMIT,
        )
        return ProcessContainer(spec.container_id, process)

    async def close(self) -> None:
        """Stops the zygotes (the agent stops the containers first)."""
        if self._zygotes is not None:
            await self._zygotes.close()


async def _read_pipe(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=_PIPE_LIMIT, loop=loop)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(fd, "rb", 0)
    )
    return reader
