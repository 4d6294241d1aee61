"""Choosing the host interpreter for a process-runtime image from ImageSpec.python_version.

The process runtime has no interpreters of its own: "" or the builder's own version means the
interpreter running the builder; another version means a working `python3.X` on PATH. Only
major.minor is matched ("3.11.4" asks for any 3.11).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

from services.builder.errors import InvalidSpec

_VERSION = re.compile(r"^(\d+)\.(\d+)(?:\.\d+)?$")
_CANDIDATE = re.compile(r"^python(\d+)\.(\d+)$")

# Finds the interpreter's major.minor by running it, or None when it does not run (a pyenv shim
# for a version that is not selected, a broken symlink, ...).
Probe = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Interpreter:
    path: str
    version: str  # "3.11"


def parse_version(python_version: str) -> str:
    """ "3.11" or "3.11.4" -> "3.11"; anything else is an InvalidSpec."""
    match = _VERSION.fullmatch(python_version.strip())
    if not match:
        raise InvalidSpec(f"python_version {python_version!r} is not a version like 3.11")
    return f"{match.group(1)}.{match.group(2)}"


def probe(path: str) -> str | None:
    try:
        out = subprocess.run(
            [path, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = out.stdout.strip()
    return version if out.returncode == 0 and _VERSION.fullmatch(version) else None


def path_candidates(path_env: str | None = None) -> dict[str, str]:
    """{"3.12": "/usr/bin/python3.12", ...}: the first `python3.X` executable on PATH per version."""
    found: dict[str, str] = {}
    for directory in (path_env if path_env is not None else os.environ.get("PATH", "")).split(os.pathsep):
        try:
            names = sorted(os.listdir(directory or "."))
        except OSError:
            continue
        for name in names:
            match = _CANDIDATE.fullmatch(name)
            full = os.path.join(directory, name)
            if match and os.access(full, os.X_OK):
                found.setdefault(f"{match.group(1)}.{match.group(2)}", full)
    return found


def select(
    python_version: str,
    *,
    current: tuple[int, int] = (sys.version_info.major, sys.version_info.minor),
    executable: str = sys.executable,
    candidates: Callable[[], dict[str, str]] = path_candidates,
    run_probe: Probe = probe,
) -> Interpreter:
    """The interpreter for `python_version`, or InvalidSpec naming the versions this host has."""
    own = f"{current[0]}.{current[1]}"
    executable = os.path.abspath(executable)
    if not python_version.strip():
        return Interpreter(executable, own)
    wanted = parse_version(python_version)
    if wanted == own:
        return Interpreter(executable, own)
    on_path = candidates()
    if wanted in on_path and run_probe(on_path[wanted]) == wanted:
        return Interpreter(on_path[wanted], wanted)
    available = {own} | {v for v, p in on_path.items() if v != wanted and run_probe(p) == v}
    listed = ", ".join(sorted(available, key=lambda v: tuple(int(x) for x in v.split("."))))
    raise InvalidSpec(
        f"python_version {wanted} is not available on this host (process runtime); available: {listed}"
    )
