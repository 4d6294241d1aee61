"""The one interpreter of an ImageSpec's steps: checked, labelled, keyed and handed to a builder.

`walk(spec)` goes through the steps once, in order, and says for each what the image declares at
that point (env, workdir, python_path, as image paths), how it is named in logs and errors, and
its cache key (a hash of the base and every step up to and including it, so an image built up
to a step is reused by any spec that starts the same way). The two builders consume the walk:

    process_build.ProcessBuilder   process runtime: a uv virtualenv plus a directory for `/`
    docker_build.DockerBuilder     Docker runtime: an image chain in the engine

Both have the same shape, `await builder.build(spec, on_line=...)` -> BuiltImage, and both run
pip steps through `pip_install` here (uv, sandboxed, on the step's checked arguments).

What only a container of the image can do (run_commands, apt_install, a registry base) is a
*container step*: the Docker builder runs it in a container of the image built so far; the
process runtime, whose containers run on the host's own root file system, refuses it.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from berth.v1 import build_pb2, spec_pb2
from services.builder import commands, image_fs, pip_args, sandbox, uv_output
from services.builder.errors import BuildFailed, InvalidSpec
from services.builder.sandbox import Session

LineSink = commands.LineSink

CONTAINER_STEPS = ("run_commands", "apt_install")
# Debian package names (policy 5.6.7), with an optional :arch, =version or /release; never an
# option, so nothing here reaches apt-get's command line as one.
_APT_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?([=/][A-Za-z0-9.+~:_-]+)?")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Builder(Protocol):
    """What both runtimes' builders offer the gRPC servicer."""

    async def build(self, spec: spec_pb2.ImageSpec, *, on_line: LineSink) -> build_pb2.BuiltImage: ...


@dataclass
class Declared:
    """Env, workdir and python_path the steps declare, as image paths, accumulated in step order."""

    env: dict[str, str] = field(default_factory=dict)
    workdir: str = ""  # "" while no step sets one
    python_path: list[str] = field(default_factory=list)

    @property
    def cwd(self) -> str:
        return self.workdir or "/"

    def copy(self) -> Declared:
        return replace(self, env=dict(self.env), python_path=list(self.python_path))


@dataclass(frozen=True)
class Walked:
    """One step as the builders see it."""

    number: int  # 1-based
    step: spec_pb2.ImageStep
    kind: str
    label: str
    before: Declared  # what the image declares when the step runs
    key: str  # cache key of the image up to and including this step


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
    if kind == "run_commands":
        shown = ", ".join(_clip(c) for c in step.run_commands.commands)
        return f"run_commands({shown})"
    if kind == "apt_install":
        return f"apt_install({', '.join(step.apt_install.packages)})"
    return f"{kind}()"


def _clip(text: str, limit: int = 60) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 3] + "..."


def declare(step: spec_pb2.ImageStep, declared: Declared) -> None:
    """What `step` changes of the image's declarations (pure)."""
    kind = step.WhichOneof("step")
    if kind == "env":
        declared.env.update(step.env.vars)
    elif kind == "workdir":
        declared.workdir = image_fs.image_path(step.workdir, cwd=declared.cwd)
    elif kind == "add_files" and step.add_files.python_path:
        where = image_fs.image_path(step.add_files.remote_path or ".", cwd=declared.cwd)
        if where not in declared.python_path:
            declared.python_path.append(where)


def declarations(spec: spec_pb2.ImageSpec) -> Declared:
    """Env, workdir and python_path the whole spec declares (image paths)."""
    declared = Declared()
    for step in spec.steps:
        declare(step, declared)
    return declared


def check(spec: spec_pb2.ImageSpec, policy: pip_args.IndexPolicy) -> None:
    """Refuses a spec before anything runs (InvalidSpec naming the step): pip arguments outside
    the allow-list, env names no shell could set, apt package names that are not names, empty
    commands. Runs on every build, cached or not, so a refused spec stays refused."""
    declared = Declared()
    for number, step in enumerate(spec.steps, start=1):
        kind = step.WhichOneof("step")
        label = f"step {number} {step_label(step)}"
        if kind == "pip_install":
            pip_args.plan(step.pip_install, policy, cwd=declared.cwd)
        elif kind == "env":
            for name in step.env.vars:
                if not _ENV_NAME.fullmatch(name):
                    raise InvalidSpec(f"{label}: {name!r} is not a valid environment variable name")
        elif kind == "apt_install":
            if not step.apt_install.packages:
                raise InvalidSpec(f"{label}: no packages to install")
            for name in step.apt_install.packages:
                if not _APT_PACKAGE.fullmatch(name):
                    raise InvalidSpec(f"{label}: {name!r} is not a Debian package name")
        elif kind == "run_commands":
            if not step.run_commands.commands or not all(c.strip() for c in step.run_commands.commands):
                raise InvalidSpec(f"{label}: an empty command")
        elif kind is None:
            raise InvalidSpec(f"step {number} is empty or of a kind this builder does not know")
        declare(step, declared)


def container_step(spec: spec_pb2.ImageSpec) -> str:
    """The first thing of the spec only a container of the image can do, as a label; "" if none."""
    if spec.registry_tag:
        return f"from_registry({spec.registry_tag})"
    for step in spec.steps:
        if step.WhichOneof("step") in CONTAINER_STEPS:
            return step_label(step)
    return ""


def walk(spec: spec_pb2.ImageSpec, base_key: str) -> list[Walked]:
    """Every step with its label, the declarations it runs under and its cache key.

    `base_key` names what the first step builds on (the runtime layer, the base image): keys
    chain from it, each a hash of the previous key and the step's deterministic serialization.
    """
    declared = Declared()
    key = base_key
    walked = []
    for number, step in enumerate(spec.steps, start=1):
        digest = hashlib.sha256()
        for part in (key.encode(), step.SerializeToString(deterministic=True)):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
        key = digest.hexdigest()
        kind = step.WhichOneof("step") or ""
        walked.append(Walked(number, step, kind, step_label(step), declared.copy(), key))
        declare(step, declared)
    return walked


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
    return await uv_install(
        session, args, writable=writable, image_env=image_env, label=label, on_line=on_line, readable=readable
    )


async def uv_install(
    session: Session,
    args: Sequence[str],
    *,
    writable: Sequence[Path],
    label: str,
    on_line: LineSink,
    image_env: Mapping[str, str] | None = None,
    readable: Sequence[str | Path] = (),
) -> int:
    """`uv <args>` (an install) in the session's sandbox: BuildFailed naming `label` if it fails,
    else the number of packages installed, with a one-line summary for the deploy's output."""
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
