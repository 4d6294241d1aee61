"""What both builders do the same way with an ImageSpec's steps: name them, check them, run pip.

The process builder (venv.py) installs into a virtualenv, the Docker builder
(docker_build.py) into a `--target` directory copied into the image; both run the step's
checked arguments through the same sandboxed `pip_install` here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from berth.v1 import spec_pb2
from services.builder import commands, image_fs, pip_args, sandbox, uv_output
from services.builder.errors import BuildFailed, InvalidSpec
from services.builder.sandbox import Session

LineSink = commands.LineSink


def step_label(step: spec_pb2.ImageStep) -> str:
    """How a step is named in logs and errors: pip_install(six, requests), env(A, B), ..."""
    kind = step.WhichOneof("step")
    if kind == "pip_install":
        return f"pip_install({', '.join([*step.pip_install.packages, *step.pip_install.extra_args])})"
    if kind == "env":
        return f"env({', '.join(sorted(step.env.vars))})"
    if kind == "workdir":
        return f"workdir({step.workdir})"
    if kind == "add_files":
        return f"add_files({step.add_files.remote_path}, {len(step.add_files.files)} files)"
    return f"{kind}()"


async def pip_install(
    session: Session,
    step: spec_pb2.PipInstall,
    *,
    base_args: Sequence[str],
    cwd: str,
    fs_root: Path,
    writable: Sequence[Path],
    image_env: Mapping[str, str],
    label: str,
    on_line: LineSink,
    readable: Sequence[str | Path] = (),
) -> int:
    """`uv <base_args> <the step's checked arguments>` in the session's sandbox; packages installed.

    Local paths in the step must be the app's own files: under `fs_root` (what add_files steps
    wrote) at the image path they name, relative to `cwd`; uv gets a copy in the scratch dir.
    """
    planned = pip_args.plan(step, session.sandbox.policy, cwd=cwd)
    if not planned:
        return 0
    staged: dict[str, str] = {}

    def locate(ref: pip_args.LocalRef) -> str:
        host = image_fs.host_path(fs_root, ref.image_path)
        if not host.exists():
            raise InvalidSpec(
                f"{label}: {ref.image_path} is not one of the app's files in the image; local packages "
                "and find-links directories must be added first (add_local_dir / add_local_file)"
            )
        if ref.image_path not in staged:
            staged[ref.image_path] = str(session.stage(host))
        return staged[ref.image_path]

    args = [*base_args, *(await asyncio.to_thread(pip_args.render, planned, locate))]
    installed = 0

    def watch(line: str) -> None:
        nonlocal installed
        installed += commands.installed_count(line) or 0
        on_line(line)

    # The image's env applies to later steps, as ENV does before RUN in a Dockerfile (filtered).
    started = time.monotonic()
    result = await sandbox.uv(
        session, args, writable=writable, on_line=watch, image_env=image_env, readable=readable
    )
    if result.returncode != 0:
        raise BuildFailed(f"image build failed: {label}\n" + "\n".join(result.tail))
    # uv's own lines are detail (uv_output.py); this is what a deploy shows of the step.
    on_line(uv_output.install_summary(installed, time.monotonic() - started))
    return installed
