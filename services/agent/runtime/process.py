"""The process runtime: each container is a child process group of the agent, running the image's
virtualenv interpreter. No isolation beyond a process group; good for a laptop and for CI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from services.agent.runtime import netns
from services.agent.runtime.base import Container, LaunchSpec


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

    def __init__(self, *, network_namespaces: bool) -> None:
        self.network_namespaces = network_namespaces

    async def launch(self, spec: LaunchSpec) -> Container:
        isolate = spec.isolate_network and self.network_namespaces
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
            limit=1 << 20,
        )
        return ProcessContainer(spec.container_id, process)
