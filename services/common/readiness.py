"""Ready files: how a service tells whoever started it that it is serving, and where.

Ports are picked by the OS, so a fixed port never collides; the service writes what it bound to a
file, atomically, and the starter waits for that file instead of sleeping.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path


def write_ready_file(path: str, content: str) -> None:
    if not path:
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.{os.getpid()}")
    staging.write_text(content)
    os.replace(staging, target)


def wait_ready_file(path: Path, *, timeout: float, alive: Callable[[], bool] | None = None) -> str:
    """Blocks until `path` exists and returns its content; fails after `timeout` seconds or as soon
    as `alive()` says the process that should write it has died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return path.read_text().strip()
        if alive is not None and not alive():
            raise RuntimeError(f"the process exited before writing {path.name}")
        time.sleep(0.02)
    raise TimeoutError(f"{path.name} did not appear within {timeout:.0f}s")
