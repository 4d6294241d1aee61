"""Process-runtime builds: a uv virtualenv plus a directory standing in for the image's file system.

Layout of `<home>/images/<image_id>/`:
    venv/        the virtualenv (python = venv/bin/python), with berth-runtime.pth -> the runtime layer
    fs/          the image's `/` (see image_fs): workdir and add_files land here
    .complete    written last; without it the directory is debris and gets wiped

uv runs in the builder's sandbox (sandbox.py), able to write `venv/` only; `fs/` and the image
root stay the builder's, and `venv/` is taken back (sandbox.reclaim) before the image is complete.
"""

from __future__ import annotations

import asyncio
import glob
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from berth.v1 import build_pb2, spec_pb2
from services.builder import cache, image_fs, pip_args, sandbox, steps
from services.builder.errors import BuildFailed
from services.builder.interpreter import Interpreter
from services.builder.locks import KeyedLocks
from services.builder.runtime_layer import Layer, RuntimeLayers
from services.builder.sandbox import Sandbox, Session

LineSink = Callable[[str], None]
RUNTIME_PTH = "berth-runtime.pth"


@dataclass
class _Declared:
    """What the spec's steps declare, accumulated in step order."""

    env: dict[str, str] = field(default_factory=dict)
    workdir: str = ""  # image path; "" when the spec sets none
    python_path: list[str] = field(default_factory=list)  # host paths


class ProcessBuilder:
    def __init__(self, home: Path, layers: RuntimeLayers, sandbox: Sandbox | None = None) -> None:
        self._images = home / "images"
        self._layers = layers
        self._sandbox = sandbox or Sandbox(home)
        self._locks = KeyedLocks()

    def root(self, image_id: str) -> Path:
        return self._images / image_id

    async def build(
        self,
        spec: spec_pb2.ImageSpec,
        *,
        image_id: str,
        interpreter: Interpreter,
        layer: Layer,
        on_line: LineSink,
    ) -> build_pb2.BuiltImage:
        """The image, from the cache when complete, else built in place under the image's lock."""
        pip_args.check_spec(spec, self._sandbox.policy)  # refused specs are refused even when cached
        root = self.root(image_id)
        if cache.is_complete(root):
            return self._describe(spec, root, image_id, cache_hit=True, installed=0)
        async with self._locks.hold(image_id, self._images / f"{image_id}.lock"):
            if cache.is_complete(root):  # another build finished while we waited
                return self._describe(spec, root, image_id, cache_hit=True, installed=0)
            await self._layers.ensure(layer, interpreter, on_line=on_line)
            cache.wipe(root)
            root.mkdir(parents=True)
            try:
                installed = await self._build_in(root, spec, interpreter, layer, on_line)
                cache.mark_complete(root, image_id + "\n")
            except BaseException:
                cache.wipe(root)  # failed, cancelled or timed out: leave nothing that looks usable
                raise
        return self._describe(spec, root, image_id, cache_hit=False, installed=installed)

    async def _build_in(
        self, root: Path, spec: spec_pb2.ImageSpec, interpreter: Interpreter, layer: Layer, on_line: LineSink
    ) -> int:
        venv = root / "venv"
        interpreter_home = sandbox.python_home(interpreter.path)
        async with self._sandbox.session() as session:
            await session.own(venv)
            on_line(f"creating virtualenv with Python {interpreter.version}")
            result = await sandbox.uv(
                session,
                ["venv", str(venv), "--python", interpreter.path],
                writable=[venv],
                on_line=on_line,
                readable=[interpreter.path, interpreter_home],
            )
            if result.returncode != 0:
                raise BuildFailed(
                    f"image build failed: venv(python {interpreter.version})\n" + "\n".join(result.tail)
                )
            _link_runtime_layer(venv, layer)
            installed = await self._run_steps(session, root, spec, interpreter_home, on_line)
        await asyncio.to_thread(sandbox.reclaim, venv)
        return installed

    async def _run_steps(
        self, session: Session, root: Path, spec: spec_pb2.ImageSpec, interpreter_home: str, on_line: LineSink
    ) -> int:
        venv = root / "venv"
        declared = _Declared()
        installed = 0
        fs_root = root / "fs"
        fs_root.mkdir()
        for number, step in enumerate(spec.steps, start=1):
            label = steps.step_label(step)
            on_line(f"step {number}/{len(spec.steps)}: {label}")
            if step.WhichOneof("step") == "pip_install":
                installed += await steps.pip_install(
                    session,
                    step.pip_install,
                    base_args=["pip", "install", "--python", str(venv / "bin" / "python")],
                    cwd=declared.workdir or "/",
                    fs_root=fs_root,
                    writable=[venv],
                    image_env=declared.env,
                    label=label,
                    on_line=on_line,
                    readable=[interpreter_home],
                )
            else:
                _apply_declaration(step, fs_root, declared)
        return installed

    def _describe(
        self, spec: spec_pb2.ImageSpec, root: Path, image_id: str, *, cache_hit: bool, installed: int
    ) -> build_pb2.BuiltImage:
        declared = declarations(spec, root / "fs")
        return build_pb2.BuiltImage(
            image_id=image_id,
            cache_hit=cache_hit,
            python=str(root / "venv" / "bin" / "python"),
            root=str(root),
            env=declared.env,
            workdir=str(image_fs.host_path(root / "fs", declared.workdir)) if declared.workdir else "",
            python_path=declared.python_path,
            installed=installed,
        )


def declarations(spec: spec_pb2.ImageSpec, fs_root: Path) -> _Declared:
    """Env, workdir and python_path the spec declares (pure: writes nothing)."""
    declared = _Declared()
    for step in spec.steps:
        _apply_declaration(step, fs_root, declared, write=False)
    return declared


def _apply_declaration(
    step: spec_pb2.ImageStep, fs_root: Path, declared: _Declared, *, write: bool = True
) -> None:
    kind = step.WhichOneof("step")
    if kind == "env":
        declared.env.update(step.env.vars)
    elif kind == "workdir":
        declared.workdir = image_fs.image_path(step.workdir, cwd=declared.workdir or "/")
        if write:
            image_fs.host_path(fs_root, declared.workdir).mkdir(parents=True, exist_ok=True)
    elif kind == "add_files":
        cwd = declared.workdir or "/"
        if write:
            image_fs.write_files(fs_root, step.add_files, cwd=cwd)
        if step.add_files.python_path:
            where = str(
                image_fs.host_path(fs_root, image_fs.image_path(step.add_files.remote_path or ".", cwd=cwd))
            )
            if where not in declared.python_path:
                declared.python_path.append(where)


def _link_runtime_layer(venv: Path, layer: Layer) -> None:
    site_dirs = glob.glob(str(venv / "lib" / "python*" / "site-packages"))
    if len(site_dirs) != 1:
        raise BuildFailed(
            f"image build failed: venv has {len(site_dirs)} site-packages directories, expected 1"
        )
    (Path(site_dirs[0]) / RUNTIME_PTH).write_text(str(layer.site) + "\n")
