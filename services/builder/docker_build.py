"""Docker-runtime builds: images made from layers prepared on the host, build steps in containers.

Images, each cached in the engine by tag:

    berth-base:bookworm-py3.11     Debian + python3, made by base_image (debootstrap + docker import)
    berth-runtime:<layer id>       + the runner's dependencies, pip and setuptools, and the `berth`
                                   package (/opt/berth/runtime)
    berth-step:<step key>          the image up to a container step (run_commands, apt_install),
                                   and up to the step before one: steps.walk's cache keys
    berth-img:<image id>           + the spec's pip packages (/opt/berth/site), files, ENV and WORKDIR

The steps are walked once (steps.walk). Host-side steps (pip_install, add_files, env, workdir)
are gathered in a build context and become one `docker build` (no network) before the next
container step and at the end; container steps run in a container of the image so far, with no
network but the egress proxy (container_steps.py), and are committed. A build starts from the
last step image the engine has, so changing a later step does not rerun an earlier apt_install.

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
import contextlib
import hashlib
import io
import platform
import re
import shutil
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.v1 import build_pb2, spec_pb2
from services.builder import base_image, container_steps, image_fs, runtime_layer, sandbox, spec_hash, steps
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
STEP_REPO = "berth-step"
RUNTIME_REPO = "berth-runtime"
CONTAINER_PYTHON = "/usr/bin/python3"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# glibc of each suite, for the manylinux tag uv resolves wheels for.
GLIBC = {"bookworm": "2_36"}
# Changes whenever how the runtime layer is made changes, so its id (and every image's) changes too.
_LAYER_RECIPE = "uv --target --compile-bytecode; berth package compiled"
_SHEBANG_SH = re.compile(rb"^#!/bin/sh\n'''exec' .*?python[\d.]*\"? \"\$0\" \"\$@\"\n' '''\n", re.DOTALL)


def image_tag(image_id: str) -> str:
    return f"{IMAGE_REPO}:{image_id[:32]}"


def step_tag(key: str) -> str:
    return f"{STEP_REPO}:{key[:32]}"


def runtime_tag(layer_id: str) -> str:
    return f"{RUNTIME_REPO}:{layer_id[:32]}"


def python_platform(machine: str, suite: str = base_image.SUITE, *, glibc: str = "") -> str:
    """uv's --python-platform for the base image: `x86_64-manylinux_2_36` on bookworm/amd64."""
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(machine.lower(), machine.lower())
    return f"{arch}-manylinux_{glibc or GLIBC[suite]}"


@dataclass(frozen=True)
class Root:
    """What an image chain starts from: Berth's Debian base, or a registry image (from_registry)."""

    ref: str  # what FROM names: the base's tag, or the registry image's id
    name: str  # for messages: the tag the user gave
    python: str  # "3.11"
    python_bin: str  # the image's python3, an absolute path
    site_dir: str  # the interpreter's site-packages, where berth.pth goes
    glibc: str  # "2_36", for uv's manylinux platform tag
    path: str = DEFAULT_PATH  # the image's PATH
    registry: bool = False


def debian_root(base: base_image.BaseImage | None = None) -> Root:
    base = base or base_image.BaseImage()
    return Root(
        ref=base.tag,
        name=base.tag,
        python=base.python,
        python_bin=CONTAINER_PYTHON,
        site_dir=pth_path(base.python).rsplit("/", 1)[0],
        glibc=GLIBC[base.suite],
    )


# Run in a registry image (`python3 -I -c`): version, interpreter, site-packages, C library.
PROBE = (
    "import platform, sys, sysconfig; print(*sys.version_info[:2]); print(sys.executable); "
    "print(sysconfig.get_paths()['purelib']); print(*platform.libc_ver())"
)


def parse_probe(tag: str, image_id: str, output: str, path: str) -> Root:
    """The Root a registry image makes, from PROBE's output; InvalidSpec naming what is missing."""
    lines = output.strip().splitlines()
    try:
        major, minor = (int(part) for part in lines[0].split())
        python_bin, site_dir = lines[1].strip(), lines[2].strip()
        libc = lines[3].split() if len(lines) > 3 else []  # musl: platform.libc_ver() is empty
    except (IndexError, ValueError):
        raise InvalidSpec(
            f"from_registry({tag}): the image's python3 did not say what it is ({output.strip()[:200]!r}); "
            "Berth needs a python3 of 3.11 or newer on the image's PATH"
        ) from None
    if (major, minor) < (3, 11):
        raise InvalidSpec(
            f"from_registry({tag}): the image's python3 is {major}.{minor}; Berth needs 3.11 or newer "
            "(start from an image with a newer Python, e.g. python:3.12-slim)"
        )
    if len(libc) != 2 or libc[0] != "glibc" or not python_bin.startswith("/") or not site_dir.startswith("/"):
        raise InvalidSpec(
            f"from_registry({tag}): the image's Python is not built on glibc "
            f"({' '.join(libc) or 'unknown'}); Berth installs manylinux wheels and needs a glibc-based "
            "image (Debian, Ubuntu, ...)"
        )
    return Root(
        ref=image_id,
        name=tag,
        python=f"{major}.{minor}",
        python_bin=python_bin,
        site_dir=site_dir,
        glibc=libc[1].replace(".", "_"),
        path=path or DEFAULT_PATH,
        registry=True,
    )


def pth_path(python: str) -> str:
    return f"/usr/local/lib/python{python}/dist-packages/{PTH_NAME}"


def pth_text() -> str:
    # A line starting with `import` is executed; addsitedir also honours .pth files inside the dirs.
    return f"import site; site.addsitedir({SITE!r}); site.addsitedir({RUNTIME!r})\n"


Declared = steps.Declared


def declarations(spec: spec_pb2.ImageSpec) -> Declared:
    """Env, workdir and python_path the spec declares, as image paths."""
    return steps.declarations(spec)


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


def runtime_dockerfile(base: str, python: str, *, site_dir: str = "", registry: bool = False) -> str:
    # `python` as on python:3.x-slim and Modal's debian_slim (guide apps run `python -m ...`);
    # a registry image keeps the `python` it has.
    link = (
        'RUN command -v python >/dev/null 2>&1 || ln -s "$(command -v python3)" /usr/local/bin/python'
        if registry
        else "RUN ln -sf /usr/bin/python3 /usr/local/bin/python"
    )
    pth = f"{site_dir}/{PTH_NAME}" if site_dir else pth_path(python)
    return "\n".join([f"FROM {base}", f"COPY runtime/ {RUNTIME}/", f"COPY {PTH_NAME} {pth}", link, ""])


def root_dockerfile(root: Root) -> str:
    return runtime_dockerfile(root.ref, root.python, site_dir=root.site_dir, registry=root.registry)


def image_dockerfile(
    runtime: str,
    *,
    has_site: bool,
    has_files: bool,
    env: dict[str, str],
    workdir: str,
    path: str = DEFAULT_PATH,
) -> str:
    lines = [f"FROM {runtime}"]
    if has_site:
        lines.append(f"COPY site/ {SITE}/")
    if has_files:
        lines.append("COPY fs/ /")
    lines.append(env_line({"PATH": f"{SITE}/bin:{path}", "PYTHONUNBUFFERED": "1", **env}))
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
        self._roots: dict[str, Root] = {}  # registry image id -> what its probe found

    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def layer_id(self, root: Root | None = None) -> str:
        root = root or debian_root()
        reqs = runtime_layer.requirements()
        recipe_text = root_dockerfile(root) + pth_text() + _LAYER_RECIPE + repr(root)
        recipe = hashlib.sha256(recipe_text.encode()).hexdigest()
        return runtime_layer.layer_id(reqs, f"{root.python}/{root.ref}/{recipe}", runtime_layer.package_dir())

    async def build(self, spec: spec_pb2.ImageSpec, *, on_line: LineSink) -> build_pb2.BuiltImage:
        steps.check(spec, self._sandbox.policy)  # refused specs are refused even when cached
        if spec.add_python:
            raise InvalidSpec(
                f"from_registry({spec.registry_tag}, add_python={spec.add_python}): Berth cannot add a "
                "Python to an image; start from one that has python3 (3.11 or newer)"
            )
        client = await asyncio.to_thread(self.client)
        base = base_image.BaseImage()
        if spec.registry_tag:
            root = await self._registry_root(client, spec.registry_tag, on_line)
        else:
            root = debian_root(base)
            if spec.python_version.strip() and parse_version(spec.python_version) != base.python:
                raise InvalidSpec(
                    f"python_version {parse_version(spec.python_version)} is not available on the docker "
                    f"runtime; its images run Python {base.python} ({base.tag})"
                )
        layer_id = await asyncio.to_thread(self.layer_id, root)
        image_id = spec_hash.image_id(spec, runtime="docker", layer_id=layer_id)
        tag = image_tag(image_id)
        if await asyncio.to_thread(base_image.image_exists, client, tag):
            return _describe(spec, root, image_id, tag, cache_hit=True, installed=0)
        async with self._locks.hold(image_id, self._work / "locks" / f"{image_id[:32]}.lock"):
            if await asyncio.to_thread(base_image.image_exists, client, tag):
                return _describe(spec, root, image_id, tag, cache_hit=True, installed=0)
            if not root.registry:
                await base_image.ensure(client, self._home, base=base, on_line=on_line)
            runtime = await self._ensure_runtime(client, root, layer_id, on_line)
            installed = await self._build_image(client, spec, root, runtime, tag, on_line)
        return _describe(spec, root, image_id, tag, cache_hit=False, installed=installed)

    async def _registry_root(self, client: Any, tag: str, on_line: LineSink) -> Root:
        """The registry image as a Root: pulled unless the engine has it, then probed."""
        import docker.errors

        def find() -> Any:
            try:
                return client.images.get(tag)
            except docker.errors.ImageNotFound:
                pass
            on_line(f"from_registry({tag}): pulling")
            try:
                return client.images.pull(tag)
            except docker.errors.DockerException as exc:
                raise BuildFailed(
                    f"image build failed: from_registry({tag}): the Docker engine has no such image and "
                    f"could not pull it: {exc}"
                ) from None

        image = await asyncio.to_thread(find)
        cached = self._roots.get(image.id)
        if cached is not None and cached.name == tag:
            return cached
        env = (image.attrs.get("Config") or {}).get("Env") or []
        path = next((entry[5:] for entry in env if entry.startswith("PATH=")), "")
        output = await asyncio.to_thread(_probe, client, image.id, tag)
        root = parse_probe(tag, image.id, output, path)
        self._roots[image.id] = root
        return root

    async def _ensure_runtime(self, client: Any, root: Root, layer_id: str, on_line: LineSink) -> str:
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
                on_line(f"runtime layer {layer_id[:12]}: installing {' '.join(reqs)} for {root.name}")
                target = context / "runtime"
                async with self._sandbox.session() as session:
                    await session.own(target)
                    await steps.uv_install(
                        session,
                        uv_install_args(target, reqs, root),
                        writable=[target],
                        label="Berth runtime layer",
                        on_line=on_line,
                    )
                await asyncio.to_thread(sandbox.reclaim, target)
                source = runtime_layer.package_dir()
                for path in runtime_layer.package_files(source):
                    target = context / "runtime" / "berth" / path.relative_to(source)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, target)
                await asyncio.to_thread(_compile, context / "runtime" / "berth", root.python)
                fix_shebangs(context / "runtime" / "bin", root.python_bin)
                (context / PTH_NAME).write_text(pth_text())
                (context / "Dockerfile").write_text(root_dockerfile(root))
                on_line(f"runtime layer {layer_id[:12]}: docker build {tag}")
                await _docker_build(client, context, tag, on_line)
        return tag

    async def _build_image(
        self, client: Any, spec: spec_pb2.ImageSpec, root: Root, runtime: str, tag: str, on_line: LineSink
    ) -> int:
        walked = steps.walk(spec, base_key=runtime)
        start, current = await asyncio.to_thread(_resume_point, client, walked, runtime)
        if start:
            on_line(f"steps 1-{start}/{len(walked)}: cached ({current})")
        with self._context("image") as context:
            chain = _Chain(self, client, root, context, current, on_line)
            await asyncio.to_thread(chain.replay, walked[:start])
            async with self._sandbox.session() as session:
                for w in walked[start:]:
                    on_line(f"step {w.number}/{len(walked)}: {w.label}")
                    await chain.apply(session, w, walked)
            await chain.flush(declarations(spec), tag)
        return chain.installed

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


class _Chain:
    """The image being built: the tag so far, plus what host-side steps gathered since.

    `site/` accumulates every pip step's packages (so uv sees what earlier steps installed) and
    is copied whole at each flush; `fs/` holds every file added (pip steps find local packages
    there), `segment-<n>/` only those added since the last flush, which is what gets copied.
    """

    def __init__(
        self, builder: DockerBuilder, client: Any, root: Root, context: Path, current: str, on_line: LineSink
    ) -> None:
        self.builder = builder
        self.client = client
        self.root = root
        self.context = context
        self.current = current
        self.on_line = on_line
        self.installed = 0
        self.site_changed = False
        self.pending = False
        self.segment = 0
        (context / f"segment-{self.segment}").mkdir()

    @property
    def site(self) -> Path:
        return self.context / "site"

    @property
    def files(self) -> Path:
        return self.context / f"segment-{self.segment}"

    def replay(self, done: list[steps.Walked]) -> None:
        """What the cached steps left on the host side: their files, and the image's packages."""
        for w in done:
            if w.kind in ("add_files", "workdir"):
                _write(w, self.context / "fs")
        if any(w.kind == "pip_install" for w in done):
            _extract(self.client, self.current, SITE, self.site)

    async def apply(self, session: Session, w: steps.Walked, walked: list[steps.Walked]) -> None:
        if w.kind in steps.CONTAINER_STEPS:
            if self.pending:
                await self.flush(w.before, step_tag(walked[w.number - 2].key))
            repository, _, tag = step_tag(w.key).partition(":")
            await container_steps.run(
                self.client,
                self.builder._sandbox,
                image=self.current,
                step=w.step,
                label=f"step {w.number} {w.label}",
                cwd=w.before.cwd,
                image_env=w.before.env,
                commit_to=(repository, tag),
                on_line=self.on_line,
            )
            self.current = step_tag(w.key)
        elif w.kind == "pip_install":
            await session.own(self.site)
            self.installed += await steps.pip_install(
                session,
                w.step.pip_install,
                base_args=uv_install_args(self.site, [], self.root),
                cwd=w.before.cwd,
                fs_root=self.context / "fs",
                writable=[self.site],
                image_env=w.before.env,
                label=w.label,
                on_line=self.on_line,
            )
            self.site_changed = self.pending = True
        else:
            if w.kind in ("add_files", "workdir"):
                _write(w, self.context / "fs")
                _write(w, self.files)
            self.pending = True

    async def flush(self, declared: steps.Declared, tag: str) -> None:
        """`docker build` of what was gathered since the last flush on top of the image so far."""
        context = self.context
        if self.site.is_dir():
            await asyncio.to_thread(sandbox.reclaim, self.site)
            fix_shebangs(self.site / "bin", self.root.python_bin)
        has_files = any(self.files.iterdir())
        dockerfile = image_dockerfile(
            self.current,
            has_site=self.site_changed,
            has_files=has_files,
            env=declared.env,
            workdir=declared.workdir,
            path=self.root.path,
        ).replace("COPY fs/ /", f"COPY {self.files.name}/ /")
        (context / "Dockerfile").write_text(dockerfile)
        self.on_line(f"docker build {tag}")
        await _docker_build(self.builder.client(), context, tag, self.on_line)
        self.current = tag
        self.site_changed = self.pending = False
        self.segment += 1
        self.files.mkdir()


def _write(w: steps.Walked, root: Path) -> None:
    if w.kind == "workdir":
        workdir = image_fs.image_path(w.step.workdir, cwd=w.before.cwd)
        image_fs.host_path(root, workdir).mkdir(parents=True, exist_ok=True)
    else:
        image_fs.write_files(root, w.step.add_files, cwd=w.before.cwd)


def _resume_point(client: Any, walked: list[steps.Walked], runtime: str) -> tuple[int, str]:
    """(steps done, the image they made): the last step image the engine has, else the runtime."""
    for index in range(len(walked) - 1, -1, -1):
        w = walked[index]
        checkpoint = w.kind in steps.CONTAINER_STEPS or (
            index + 1 < len(walked) and walked[index + 1].kind in steps.CONTAINER_STEPS
        )
        if checkpoint and base_image.image_exists(client, step_tag(w.key)):
            return index + 1, step_tag(w.key)
    return 0, runtime


def _extract(client: Any, image: str, path: str, target: Path) -> None:
    """Copies `path` (a directory) out of `image` to `target`."""
    import docker.errors

    container = client.containers.create(image, command=["true"], network_mode="none")
    try:
        try:
            stream, _ = container.get_archive(path)
        except docker.errors.NotFound:
            return
        data = io.BytesIO(b"".join(stream))
        with tarfile.open(fileobj=data) as archive:
            staging = target.parent / f".{target.name}-extract"
            archive.extractall(staging, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        (staging / Path(path).name).rename(target)
        shutil.rmtree(staging, ignore_errors=True)
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)


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


def _probe(client: Any, image_id: str, tag: str) -> str:
    """PROBE's output in a container of the image (no network); InvalidSpec without a python3."""
    import docker.errors

    container = client.containers.create(
        image_id, command=["python3", "-I", "-c", PROBE], entrypoint=[], network_mode="none"
    )
    try:
        try:
            container.start()
        except docker.errors.APIError as exc:
            raise InvalidSpec(
                f"from_registry({tag}): the image has no python3 on its PATH ({exc.explanation}); "
                "Berth needs one of 3.11 or newer"
            ) from None
        status = container.wait(timeout=60).get("StatusCode", 1)
        output = container.logs().decode(errors="replace")
        if status != 0:
            raise InvalidSpec(
                f"from_registry({tag}): `python3` failed in the image (exit {status}): "
                f"{output.strip()[-300:]}; Berth needs a python3 of 3.11 or newer on the image's PATH"
            )
        return str(output)
    finally:
        with contextlib.suppress(docker.errors.DockerException):
            container.remove(force=True)


def _describe(
    spec: spec_pb2.ImageSpec, root: Root, image_id: str, tag: str, *, cache_hit: bool, installed: int
) -> build_pb2.BuiltImage:
    declared = declarations(spec)
    return build_pb2.BuiltImage(
        image_id=image_id,
        cache_hit=cache_hit,
        python=root.python_bin,
        docker_tag=tag,
        env=declared.env,
        workdir=declared.workdir,
        python_path=declared.python_path,
        installed=installed,
    )


def uv_install_args(target: Path, packages: Iterable[str], base: base_image.BaseImage | Root) -> list[str]:
    root = base if isinstance(base, Root) else debian_root(base)
    same_python = f"{sys.version_info.major}.{sys.version_info.minor}" == root.python
    return [
        "pip",
        "install",
        "--target",
        str(target),
        "--python",
        sys.executable,
        "--python-platform",
        python_platform(platform.machine(), glibc=root.glibc),
        "--python-version",
        root.python,
        # Bytecode made here when the magic matches, so containers do not recompile on every cold start.
        *(["--compile-bytecode"] if same_python else []),
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
