"""Cache entries on disk: a directory is usable only once its `.complete` marker exists.

Entries are built in place at their final path (virtualenvs are not relocatable, so building
elsewhere and renaming is not an option), under a lock, and the marker is written last. A
directory without the marker is debris from a crashed or failed build and is wiped before reuse.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

MARKER = ".complete"


def is_complete(root: Path) -> bool:
    return (root / MARKER).is_file()


def mark_complete(root: Path, content: str) -> None:
    """Writes the marker atomically (temp file + rename), after everything else is on disk."""
    tmp = root / f"{MARKER}.tmp"
    with open(tmp, "w") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, root / MARKER)


def wipe(root: Path) -> None:
    """Removes a half-built entry (one without the marker)."""
    if root.exists():
        shutil.rmtree(root)
