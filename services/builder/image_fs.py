"""Where an image's paths live on the process runtime.

The process runtime has no container file system, so each image gets a directory standing in
for `/`: the image path `/root/app` is the host path `<image root>/fs/root/app`. Relative paths
(in `workdir` and `add_files.remote_path`) resolve against the current workdir, as in a
Dockerfile, and `..` can never climb out of `fs/`.
"""

from __future__ import annotations

import os
import posixpath
import re
from pathlib import Path

from berth.v1 import spec_pb2
from services.builder.errors import InvalidSpec

DEFAULT_FILE_MODE = 0o644
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def image_path(path: str, *, cwd: str = "/") -> str:
    """The normalized absolute image path for `path` (relative to `cwd`), never above `/`.

    Control characters are refused: NUL cannot be in a file name, and a line break in a workdir
    would add instructions to the image's Dockerfile (`WORKDIR <path>`)."""
    if _CONTROL.search(path):
        raise InvalidSpec(f"image path {path!r} contains a control character")
    joined = posixpath.join(cwd or "/", path)
    return posixpath.normpath("/" + joined.lstrip("/"))


def host_path(fs_root: Path, path: str) -> Path:
    """The host path of an absolute image path."""
    return fs_root / image_path(path).lstrip("/")


def write_files(fs_root: Path, step: spec_pb2.AddFiles, *, cwd: str) -> Path:
    """Writes an add_files step under `fs_root`; returns the host directory of its remote_path."""
    base = image_path(step.remote_path or ".", cwd=cwd)
    base_dir = host_path(fs_root, base)
    base_dir.mkdir(parents=True, exist_ok=True)
    for file in step.files:
        if not file.path:
            raise InvalidSpec(f"add_files({step.remote_path}) has a file with an empty path")
        target = host_path(fs_root, image_path(file.path, cwd=base))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(file.content)
        os.chmod(target, (file.mode & 0o7777) or DEFAULT_FILE_MODE)
    return base_dir
