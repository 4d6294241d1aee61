"""Process-runtime builds: a uv virtualenv plus a directory standing in for the image's file system.

Layout of `<home>/images/<image_id>/`:
    venv/        the virtualenv (python = venv/bin/python), with berth-runtime.pth -> the runtime layer
                 (which holds pip and setuptools too, as the hosted service's images have them)
    fs/          the image's `/` (see image_fs): workdir and add_files land here
    .complete    written last; without it the directory is debris and gets wiped

uv runs in the builder's sandbox (sandbox.py), able to write `venv/` only; `fs/` and the image
root stay the builder's, and `venv/` is taken back (sandbox.reclaim) before the image is complete.

Process-runtime containers run on the host's own root file system (their isolation hides and
binds host paths; it has no root file system of the image's), so what only an image's own root
can hold is refused, before anything runs: run_commands and apt_install (they would change the
host), from_registry (another root file system). Files added to an absolute path land in `fs/`,
which code reaches through the workdir and python_path the image declares; the scheduler refuses
add_local_* to an absolute path at deploy (spec_checks.py), because making `/assets` itself
appear would take a mount over a host directory (hiding what the app needs from the host) or a
new directory in the host's `/`, and without root or user namespaces no mount at all.
"""

from __future__ import annotations

import asyncio
import glob
from collections.abc import Callable
from pathlib import Path

from berth.v1 import build_pb2, spec_pb2
from services.builder import cache, image_fs, interpreter, sandbox, spec_hash, steps
from services.builder.errors import BuildFailed, RuntimeNotSupported
from services.builder.interpreter import Interpreter
from services.builder.locks import KeyedLocks
from services.builder.runtime_layer import Layer, RuntimeLayers
from services.builder.sandbox import Sandbox, Session

LineSink = Callable[[str], None]
RUNTIME_PTH = "berth-runtime.pth"
RUNTIME = "process"
DOCKER_HINT = "use the Docker runtime (`BERTH_RUNTIME=docker berth up`)"


class ProcessBuilder:
    def __init__(self, home: Path, layers: RuntimeLayers, sandbox: Sandbox | None = None) -> None:
        self._images = home / "images"
        self._layers = layers
        self._sandbox = sandbox or Sandbox(home)
        self._locks = KeyedLocks()

    def root(self, image_id: str) -> Path:
        return self._images / image_id

    def identify(self, spec: spec_pb2.ImageSpec) -> tuple[str, Interpreter, Layer]:
        """The image id of `spec`, with the interpreter and runtime layer it is built on."""
        chosen = interpreter.select(spec.python_version)
        layer = self._layers.describe(chosen)
        return spec_hash.image_id(spec, runtime=RUNTIME, layer_id=layer.layer_id), chosen, layer

    async def build(self, spec: spec_pb2.ImageSpec, *, on_line: LineSink) -> build_pb2.BuiltImage:
        """The image, from the cache when complete, else built in place under the image's lock."""
        steps.check(spec, self._sandbox.policy)  # refused specs are refused even when cached
        refused = steps.container_step(spec)
        if refused:
            raise RuntimeNotSupported(
                f"{refused}: the process runtime cannot run this step (its containers use the "
                f"host's own root file system); {DOCKER_HINT}"
            )
        image_id, chosen, layer = await asyncio.to_thread(self.identify, spec)
        root = self.root(image_id)
        if cache.is_complete(root):
            return self._describe(spec, root, image_id, cache_hit=True, installed=0)
        async with self._locks.hold(image_id, self._images / f"{image_id}.lock"):
            if cache.is_complete(root):  # another build finished while we waited
                return self._describe(spec, root, image_id, cache_hit=True, installed=0)
            await self._layers.ensure(layer, chosen, on_line=on_line)
            cache.wipe(root)
            root.mkdir(parents=True)
            try:
                installed = await self._build_in(root, spec, chosen, layer, on_line)
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
        installed = 0
        fs_root = root / "fs"
        fs_root.mkdir()
        walked = steps.walk(spec, base_key=RUNTIME)
        for w in walked:
            on_line(f"step {w.number}/{len(walked)}: {w.label}")
            if w.kind == "pip_install":
                installed += await steps.pip_install(
                    session,
                    w.step.pip_install,
                    base_args=["pip", "install", "--python", str(venv / "bin" / "python")],
                    cwd=w.before.cwd,
                    fs_root=fs_root,
                    writable=[venv],
                    image_env=w.before.env,
                    label=w.label,
                    on_line=on_line,
                    readable=[interpreter_home],
                )
            elif w.kind == "workdir":
                image_fs.host_path(fs_root, image_fs.image_path(w.step.workdir, cwd=w.before.cwd)).mkdir(
                    parents=True, exist_ok=True
                )
            elif w.kind == "add_files":
                image_fs.write_files(fs_root, w.step.add_files, cwd=w.before.cwd)
        return installed

    def _describe(
        self, spec: spec_pb2.ImageSpec, root: Path, image_id: str, *, cache_hit: bool, installed: int
    ) -> build_pb2.BuiltImage:
        fs_root = root / "fs"
        declared = steps.declarations(spec)
        return build_pb2.BuiltImage(
            image_id=image_id,
            cache_hit=cache_hit,
            python=str(root / "venv" / "bin" / "python"),
            root=str(root),
            env=declared.env,
            workdir=str(image_fs.host_path(fs_root, declared.workdir)) if declared.workdir else "",
            python_path=[str(image_fs.host_path(fs_root, path)) for path in declared.python_path],
            installed=installed,
        )


def declarations(spec: spec_pb2.ImageSpec, fs_root: Path) -> steps.Declared:
    """Env, workdir (an image path) and python_path (host paths under `fs_root`) the spec
    declares (pure: writes nothing)."""
    declared = steps.declarations(spec)
    return steps.Declared(
        env=declared.env,
        workdir=declared.workdir,
        python_path=[str(image_fs.host_path(fs_root, path)) for path in declared.python_path],
    )


def _link_runtime_layer(venv: Path, layer: Layer) -> None:
    site_dirs = glob.glob(str(venv / "lib" / "python*" / "site-packages"))
    if len(site_dirs) != 1:
        raise BuildFailed(
            f"image build failed: venv has {len(site_dirs)} site-packages directories, expected 1"
        )
    (Path(site_dirs[0]) / RUNTIME_PTH).write_text(str(layer.site) + "\n")
