"""Docker-runtime builds: images made from layers prepared on the host, with no network in any container.

Three images, each cached in the engine by tag:

    berth-base:bookworm-py3.11     Debian + python3, made by base_image (debootstrap + docker import)
    berth-runtime:<layer id>       + the runner's dependencies and the `berth` package (/opt/berth/runtime)
    berth-img:<image id>           + the spec's pip packages (/opt/berth/site), files, ENV and WORKDIR

Packages are installed on the host by uv into a `--target` directory for the image's Python and
platform, then copied in. uv runs in the builder's sandbox (sandbox.py: no platform environment,
files or Docker socket, an unprivileged uid), able to write the target directory only, which is
taken back (sandbox.reclaim) before anything reads it. A `.pth` file in the image's
dist-packages adds /opt/berth/site and then /opt/berth/runtime as site directories, so a user's
own package versions win over the runner's (the same order as the process runtime). A tag is
only ever set by a build that finished, so a tag that exists is a complete image: that is the
cache check.
"""

from __future__ import annotations

import asyncio
import compileall
import hashlib
import platform
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from berth.v1 import build_pb2, spec_pb2
from services.builder import base_image, image_fs, pip_args, runtime_layer, sandbox, spec_hash, steps
from services.builder.errors import BuildFailed, InvalidSpec
from services.builder.interpreter import parse_version
from services.builder.locks import KeyedLocks
from services.builder.sandbox import Sandbox, Session

LineSink = Callable[[str], None]
ClientFactory = Callable[[], Any]

SITE = "/opt/berth/site"  # the spec's pip packages
RUNTIME = "/opt/berth/runtime"  # the runner's dependencies and the berth package
DEFAULT_WORKDIR = "/berth/code"  # where the docker runtime mounts the code bundle
PTH_NAME = "berth.pth"
IMAGE_REPO = "berth-img"
RUNTIME_REPO = "berth-runtime"
CONTAINER_PYTHON = "/usr/bin/python3"
# glibc of each suite, for the manylinux tag uv resolves wheels for.
GLIBC = {"bookworm": "2_36"}
# Changes whenever how the runtime layer is made changes, so its id (and every image's) changes too.
_LAYER_RECIPE = "uv --target --compile-bytecode; berth package compiled"
_SHEBANG_SH = re.compile(rb"^#!/bin/sh\n'''exec' .*?python[\d.]*\"? \"\$0\" \"\$@\"\n' '''\n", re.DOTALL)


def image_tag(image_id: str) -> str:
    return f"{IMAGE_REPO}:{image_id[:32]}"


def runtime_tag(layer_id: str) -> str:
    return f"{RUNTIME_REPO}:{layer_id[:32]}"


def python_platform(machine: str, suite: str = base_image.SUITE) -> str:
    """uv's --python-platform for the base image: `x86_64-manylinux_2_36` on bookworm/amd64."""
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine.lower())
    return f"{arch}-manylinux_{GLIBC[suite]}"


def pth_path(python: str) -> str:
    return f"/usr/local/lib/python{python}/dist-packages/{PTH_NAME}"


def pth_text() -> str:
    # A line starting with `import` is executed; addsitedir also honours .pth files inside the dirs.
    return f"import site; site.addsitedir({SITE!r}); site.addsitedir({RUNTIME!r})\n"


@dataclass
class Declared:
    """Env, workdir and python_path the spec declares, as image paths."""

    env: dict[str, str] = field(default_factory=dict)
    workdir: str = ""
    python_path: list[str] = field(default_factory=list)


def declarations(spec: spec_pb2.ImageSpec) -> Declared:
    declared = Declared()
    for step in spec.steps:
        kind = step.WhichOneof("step")
        if kind == "env":
            declared.env.update(step.env.vars)
        elif kind == "workdir":
            declared.workdir = image_fs.image_path(step.workdir, cwd=declared.workdir or "/")
        elif kind == "add_files" and step.add_files.python_path:
            where = image_fs.image_path(step.add_files.remote_path or ".", cwd=declared.workdir or "/")
            if where not in declared.python_path:
                declared.python_path.append(where)
    return declared


def env_line(env: dict[str, str]) -> str:
    """One ENV instruction; values are quoted so spaces, quotes, `\\` and `$` arrive verbatim.

    A value with a line break cannot be written in a Dockerfile; it is left out here and still
    reaches Berth's containers, which get BuiltImage.env at launch.
    """

    def quote(value: str) -> str:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'

    for key in env:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise InvalidSpec(f"env name {key!r} is not a valid environment variable name")
    return "ENV " + " ".join(
        f"{key}={quote(value)}" for key, value in sorted(env.items()) if "\n" not in value
    )


def runtime_dockerfile(base: str, python: str) -> str:
    return "\n".join(
        [
            f"FROM {base}",
            f"COPY runtime/ {RUNTIME}/",
            f"COPY {PTH_NAME} {pth_path(python)}",
            # `python` as on python:3.x-slim and Modal's debian_slim (guide apps run `python -m ...`).
            "RUN ln -sf /usr/bin/python3 /usr/local/bin/python",
            "",
        ]
    )


def image_dockerfile(
    runtime: str, *, has_site: bool, has_files: bool, env: dict[str, str], workdir: str
) -> str:
    lines = [f"FROM {runtime}"]
    if has_site:
        lines.append(f"COPY site/ {SITE}/")
    if has_files:
        lines.append("COPY fs/ /")
    path = f"{SITE}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    lines.append(env_line({"PATH": path, "PYTHONUNBUFFERED": "1", **env}))
    lines.append(f"WORKDIR {workdir or DEFAULT_WORKDIR}")
    return "\n".join(lines) + "\n"


def fix_shebangs(bin_dir: Path, python: str = CONTAINER_PYTHON) -> None:
    """Points console scripts uv wrote for the host's interpreter at the image's python."""
    if not bin_dir.is_dir():
        return
    for script in bin_dir.iterdir():
        if script.is_symlink() or not script.is_file():  # never write through a link
            continue
        data = script.read_bytes()
        if not data.startswith(b"#!"):
            continue
        match = _SHEBANG_SH.match(data)
        if match:
            script.write_bytes(f"#!{python}\n".encode() + data[match.end() :])
            continue
        first, newline, rest = data.partition(b"\n")
        if b"python" in first:
            script.write_bytes(f"#!{python}".encode() + newline + rest)


class DockerBuilder:
    def __init__(
        self, home: Path, *, client_factory: ClientFactory | None = None, sandbox: Sandbox | None = None
    ) -> None:
        self._home = home
        self._sandbox = sandbox or Sandbox(home)
        self._work = home / "docker"
        self._locks = KeyedLocks()
        self._client_factory = client_factory or _from_env
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def layer_id(self) -> str:
        base = base_image.BaseImage()
        reqs = runtime_layer.requirements()
        recipe_text = runtime_dockerfile(base.tag, base.python) + pth_text() + _LAYER_RECIPE
        recipe = hashlib.sha256(recipe_text.encode()).hexdigest()
        return runtime_layer.layer_id(reqs, f"{base.python}/{base.tag}/{recipe}", runtime_layer.package_dir())

    async def build(self, spec: spec_pb2.ImageSpec, *, on_line: LineSink) -> build_pb2.BuiltImage:
        pip_args.check_spec(spec, self._sandbox.policy)  # refused specs are refused even when cached
        base = base_image.BaseImage()
        if spec.python_version.strip() and parse_version(spec.python_version) != base.python:
            raise InvalidSpec(
                f"python_version {parse_version(spec.python_version)} is not available on the docker "
                f"runtime; its images run Python {base.python} ({base.tag})"
            )
        layer_id = await asyncio.to_thread(self.layer_id)
        image_id = spec_hash.image_id(spec, runtime="docker", layer_id=layer_id)
        tag = image_tag(image_id)
        client = await asyncio.to_thread(self.client)
        if await asyncio.to_thread(base_image.image_exists, client, tag):
            return _describe(spec, image_id, tag, cache_hit=True, installed=0)
        async with self._locks.hold(image_id, self._work / "locks" / f"{image_id[:32]}.lock"):
            if await asyncio.to_thread(base_image.image_exists, client, tag):
                return _describe(spec, image_id, tag, cache_hit=True, installed=0)
            await base_image.ensure(client, self._home, base=base, on_line=on_line)
            runtime = await self._ensure_runtime(client, base, layer_id, on_line)
            installed = await self._build_image(client, spec, runtime, tag, on_line)
        return _describe(spec, image_id, tag, cache_hit=False, installed=installed)

    async def _ensure_runtime(
        self, client: Any, base: base_image.BaseImage, layer_id: str, on_line: LineSink
    ) -> str:
        tag = runtime_tag(layer_id)
        if await asyncio.to_thread(base_image.image_exists, client, tag):
            return tag
        async with self._locks.hold(
            f"runtime-{layer_id}", self._work / "locks" / f"runtime-{layer_id[:32]}.lock"
        ):
            if await asyncio.to_thread(base_image.image_exists, client, tag):
                return tag
            with self._context("runtime") as context:
                reqs = runtime_layer.requirements()
                on_line(f"runtime layer {layer_id[:12]}: installing {' '.join(reqs)} for {base.tag}")
                target = context / "runtime"
                async with self._sandbox.session() as session:
                    await session.own(target)
                    result = await sandbox.uv(
                        session, uv_install_args(target, reqs, base), writable=[target], on_line=on_line
                    )
                if result.returncode != 0:
                    raise BuildFailed("image build failed: Berth runtime layer\n" + "\n".join(result.tail))
                await asyncio.to_thread(sandbox.reclaim, target)
                source = runtime_layer.package_dir()
                for path in runtime_layer.package_files(source):
                    target = context / "runtime" / "berth" / path.relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
                await asyncio.to_thread(_compile, context / "runtime" / "berth", base.python)
                (context / PTH_NAME).write_text(pth_text())
                (context / "Dockerfile").write_text(runtime_dockerfile(base.tag, base.python))
                on_line(f"runtime layer {layer_id[:12]}: docker build {tag}")
                await _docker_build(client, context, tag, on_line)
        return tag

    async def _build_image(
        self, client: Any, spec: spec_pb2.ImageSpec, runtime: str, tag: str, on_line: LineSink
    ) -> int:
        base = base_image.BaseImage()
        with self._context("image") as context:
            site = context / "site"
            async with self._sandbox.session() as session:
                env, workdir, installed, has_files = await self._run_steps(
                    session, spec, context, base, on_line
                )
            if site.is_dir():
                await asyncio.to_thread(sandbox.reclaim, site)
            fix_shebangs(site / "bin")
            dockerfile = image_dockerfile(
                runtime, has_site=site.is_dir(), has_files=has_files, env=env, workdir=workdir
            )
            (context / "Dockerfile").write_text(dockerfile)
            on_line(f"docker build {tag}")
            await _docker_build(client, context, tag, on_line)
        return installed

    async def _run_steps(
        self,
        session: Session,
        spec: spec_pb2.ImageSpec,
        context: Path,
        base: base_image.BaseImage,
        on_line: LineSink,
    ) -> tuple[dict[str, str], str, int, bool]:
        env: dict[str, str] = {}
        workdir = ""
        installed = 0
        has_files = False
        site = context / "site"
        for number, step in enumerate(spec.steps, start=1):
            label = steps.step_label(step)
            on_line(f"step {number}/{len(spec.steps)}: {label}")
            kind = step.WhichOneof("step")
            if kind == "pip_install":
                if not site.exists() and (step.pip_install.packages or step.pip_install.extra_args):
                    await session.own(site)
                installed += await steps.pip_install(
                    session,
                    step.pip_install,
                    base_args=uv_install_args(site, [], base),
                    cwd=workdir or "/",
                    fs_root=context / "fs",
                    writable=[site],
                    image_env=env,
                    label=label,
                    on_line=on_line,
                )
            elif kind == "env":
                env.update(step.env.vars)
            elif kind == "workdir":
                workdir = image_fs.image_path(step.workdir, cwd=workdir or "/")
                image_fs.host_path(context / "fs", workdir).mkdir(parents=True, exist_ok=True)
                has_files = True
            elif kind == "add_files":
                image_fs.write_files(context / "fs", step.add_files, cwd=workdir or "/")
                has_files = True
        return env, workdir, installed, has_files

    def _context(self, kind: str) -> _TempDir:
        (self._work / "tmp").mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=self._work / "tmp"))
        # Traversable, not listable: where the builder has no mount namespaces (compose), build
        # steps run as the build uid straight on these paths and must reach `site` inside.
        path.chmod(0o711)
        return _TempDir(path)


class _TempDir:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def _compile(package: Path, python: str) -> None:
    """Bytecode for the copied berth package, when this interpreter's is the image's (same magic)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python:
        compileall.compile_dir(str(package), quiet=1)


def _from_env() -> Any:
    import docker
    import docker.errors

    try:
        client = docker.from_env()
        client.ping()
    except docker.errors.DockerException as exc:
        raise BuildFailed(f"the docker runtime needs a Docker engine, and none answered: {exc}") from None
    return client


def _describe(
    spec: spec_pb2.ImageSpec, image_id: str, tag: str, *, cache_hit: bool, installed: int
) -> build_pb2.BuiltImage:
    declared = declarations(spec)
    return build_pb2.BuiltImage(
        image_id=image_id,
        cache_hit=cache_hit,
        python=CONTAINER_PYTHON,
        docker_tag=tag,
        env=declared.env,
        workdir=declared.workdir,
        python_path=declared.python_path,
        installed=installed,
    )


def uv_install_args(target: Path, packages: Iterable[str], base: base_image.BaseImage) -> list[str]:
    return [
        "pip",
        "install",
        "--target",
        str(target),
        "--python",
        sys.executable,
        "--python-platform",
        python_platform(platform.machine(), base.suite),
        "--python-version",
        base.python,
        # Bytecode made here (same 3.11 magic), so containers do not recompile on every cold start.
        "--compile-bytecode",
        *packages,
    ]


async def _docker_build(client: Any, context: Path, tag: str, on_line: LineSink) -> None:
    """`docker build` of `context`, streaming its output; a failed or abandoned build leaves no tag."""
    loop = asyncio.get_running_loop()
    abandoned = threading.Event()

    def emit(line: str) -> None:
        loop.call_soon_threadsafe(on_line, line)

    def build() -> None:
        ok = False
        try:
            stream = client.api.build(
                path=str(context),
                tag=tag,
                rm=True,
                forcerm=True,
                pull=False,
                network_mode="none",
                decode=True,
            )
            for chunk in stream:
                if abandoned.is_set():
                    return
                if "error" in chunk:
                    detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                    raise BuildFailed(f"image build failed: docker build {tag}\n{detail}")
                for line in str(chunk.get("stream", "")).splitlines():
                    if line.strip():
                        emit(line)
            ok = True
        finally:
            if not ok or abandoned.is_set():
                _remove_tag(client, tag)

    try:
        await asyncio.to_thread(build)
    except asyncio.CancelledError:
        abandoned.set()
        raise


def _remove_tag(client: Any, tag: str) -> None:
    import docker.errors

    try:
        client.images.remove(tag, noprune=False)
    except docker.errors.DockerException:
        pass
