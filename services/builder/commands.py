"""Running build tools as asyncio subprocesses, streaming output line by line; uv's output.

Commands that can run tenant code (uv) go through services/builder/sandbox.py, which calls
run_streaming with its own environment; the operator's tools (debootstrap, tar) call it directly.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from uv import find_uv_bin

LineSink = Callable[[str], None]

_INSTALLED = re.compile(r"^\s*Installed (\d+) packages?\b")
_TAIL_LINES = 40


@dataclass(frozen=True)
class ProcessResult:
    returncode: int
    tail: list[str]  # the last lines of output, for error messages


def uv_bin() -> str:
    return find_uv_bin()


def installed_count(line: str) -> int | None:
    """N from uv's "Installed N packages in 12ms" summary line, else None."""
    match = _INSTALLED.match(line)
    return int(match.group(1)) if match else None


async def run_streaming(
    argv: Sequence[str],
    *,
    on_line: LineSink,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> ProcessResult:
    """Runs `argv`, handing each output line (stdout and stderr merged) to `on_line` as it comes.

    Cancelling the caller kills the process, so a timed-out or abandoned build leaves none behind.
    """
    proc = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=dict(env) if env is not None else None,
        cwd=cwd,
    )
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    try:
        stdout = proc.stdout
        if stdout is None:  # cannot happen with stdout=PIPE; keeps the type checker honest
            raise RuntimeError(f"{argv[0]} started without an output pipe")
        while raw := await stdout.readline():
            line = raw.decode(errors="replace").rstrip("\r\n")
            tail.append(line)
            on_line(line)
        returncode = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.shield(proc.wait())
    return ProcessResult(returncode, list(tail))
