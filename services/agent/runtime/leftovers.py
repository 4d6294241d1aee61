"""Containers a killed agent left running, found and ended by the agent that succeeds it.

A container of the process runtime outlives its zygote by design (a zygote that dies must not take
running containers with it), so nothing ties a zygote-forked container to its agent's life: after
`kill -9` of the agent it would run on under init, holding its uid and memory, with nobody left to
stop it. The scheduler has replaced it by then (services/scheduler/adoption.py, `lost`). So the
agent notes each container's leader (its pid and start time, which tell the same process from a
reused pid) in a file of its own, and at start ends whatever a previous run of it noted and left
alive. Killing the leader ends the whole container: with isolation it is the keeper of the pid
namespace (pid 1 inside dies with it), without it the leader of the container's process group.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from pathlib import Path

from services.common import logs

log = logging.getLogger("berth.agent")


class Ledger:
    """The live containers of this agent, one small file each in `directory`."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)

    def add(self, container_id: str, pid: int) -> None:
        started = _start_time(pid)
        if started is not None:
            (self.directory / container_id).write_text(f"{pid} {started}\n")

    def remove(self, container_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / container_id).unlink()

    def end_leftovers(self) -> list[str]:
        """Ends the containers a previous run of this agent noted and left alive; returns their ids."""
        ended = []
        for entry in self.directory.iterdir():
            try:
                pid_text, started = entry.read_text().split()
                pid = int(pid_text)
            except (OSError, ValueError):
                pid, started = 0, ""
            if pid > 1 and _start_time(pid) == started:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
                ended.append(entry.name)
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
        if ended:
            logs.event(
                log, "ended containers a previous run of this agent left", logging.WARNING, count=len(ended)
            )
        return ended


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (/proc/<pid>/stat, field 22)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None
