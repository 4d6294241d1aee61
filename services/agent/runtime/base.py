"""The contract between the agent and a container runtime."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class LaunchSpec:
    container_id: str
    python: str
    env: dict[str, str]
    cwd: Path
    # Directories the container sees: the code bundle and the runner's socket live here.
    state_dir: Path
    code_dir: Path
    # web_server containers listen on ports of their own choosing; each gets a private network
    # namespace so several can listen on the same port on one host.
    isolate_network: bool = False
    # Docker runtime: the image to run (BuiltImage.docker_tag); "" for the process runtime.
    image_tag: str = ""


class Container(Protocol):
    """A started container. stdout/stderr are line streams the agent forwards to the logs."""

    container_id: str
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader

    async def wait(self) -> int: ...

    async def terminate(self, grace: float) -> int:
        """Asks the container to end, kills it after `grace` seconds; returns its exit code."""
        ...


class Runtime(Protocol):
    name: str

    async def launch(self, spec: LaunchSpec) -> Container: ...
