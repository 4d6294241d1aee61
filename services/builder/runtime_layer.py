"""The shared runtime layer: what Berth's in-container runner needs, installed once per interpreter.

`<home>/runtime/<layer_id>/site` holds the runner's dependencies (pinned to the versions on this
host, which the platform was tested with), pip and setuptools (SEED_PACKAGES), and a copy of
the `berth` package (without the CLI).
Image venvs reach it through a `.pth` file, which Python appends after the venv's own
site-packages, so a user's own package versions win over the layer's.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.metadata
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import berth
from services.builder import cache, commands, sandbox
from services.builder.errors import BuildFailed
from services.builder.interpreter import Interpreter
from services.builder.locks import KeyedLocks
from services.builder.sandbox import Sandbox

# Distributions the runner imports; each is pinned to the host's installed version.
RUNNER_DISTRIBUTIONS = (
    "protobuf",
    "cloudpickle",  # function calls' arguments and results
    "a2wsgi",
    "websockets",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-exporter-otlp-proto-http",
)


# In every image environment, as in the hosted service's images; in the layer, so an image's own
# pins win and no build pays for them. setuptools 81 dropped pkg_resources, which popular packages
# still import.
SEED_PACKAGES = ("pip", "setuptools<81")


def requirements(version_of: Callable[[str], str] = importlib.metadata.version) -> list[str]:
    """What the layer installs: the runner's distributions pinned to the host's versions, and
    the seed packages."""
    return [f"{name}=={version_of(name)}" for name in RUNNER_DISTRIBUTIONS] + list(SEED_PACKAGES)


def package_dir() -> Path:
    return Path(berth.__file__).resolve().parent


def package_files(root: Path) -> Iterator[Path]:
    """Files of the berth package that go into the layer, in a stable order."""
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        skipped = rel.parts[0] == "cli" or "__pycache__" in rel.parts or path.suffix == ".pyc"
        if path.is_file() and not skipped:
            yield path


def layer_id(reqs: list[str], python_version: str, package_root: Path) -> str:
    digest = hashlib.sha256()
    for part in ("\n".join(reqs), python_version):
        digest.update(part.encode() + b"\0")
    for path in package_files(package_root):
        digest.update(path.relative_to(package_root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@dataclass(frozen=True)
class Layer:
    layer_id: str
    site: Path  # goes on sys.path of every image built with it


class RuntimeLayers:
    """Computes layer ids and builds layers under `<home>/runtime/`, cached like images."""

    def __init__(self, home: Path, sandbox: Sandbox | None = None) -> None:
        self._dir = home / "runtime"
        self._sandbox = sandbox or Sandbox(home)
        self._locks = KeyedLocks()

    def describe(self, interpreter: Interpreter) -> Layer:
        """The layer an image for this interpreter uses (cheap; builds nothing)."""
        lid = layer_id(requirements(), interpreter.version, package_dir())
        return Layer(lid, self._dir / lid / "site")

    async def ensure(self, layer: Layer, interpreter: Interpreter, *, on_line: commands.LineSink) -> None:
        """Builds the layer unless it is complete; concurrent callers wait for one build."""
        root = layer.site.parent
        if cache.is_complete(root):
            return
        async with self._locks.hold(layer.layer_id, self._dir / f"{layer.layer_id}.lock"):
            if cache.is_complete(root):
                return
            cache.wipe(root)
            root.mkdir(parents=True)
            reqs = requirements()
            on_line(f"runtime layer {layer.layer_id[:12]}: installing {' '.join(reqs)}")
            # Pinned, known packages, but sdists among them would run code: sandboxed like the rest.
            async with self._sandbox.session() as session:
                await session.own(layer.site)
                result = await sandbox.uv(
                    session,
                    ["pip", "install", "--target", str(layer.site), "--python", interpreter.path, *reqs],
                    writable=[layer.site],
                    on_line=on_line,
                    readable=[interpreter.path, sandbox.python_home(interpreter.path)],
                )
            if result.returncode != 0:
                raise BuildFailed(
                    "image build failed: Berth runtime layer ("
                    + ", ".join(reqs)
                    + ")\n"
                    + "\n".join(result.tail)
                )
            await asyncio.to_thread(sandbox.reclaim, layer.site)
            source = package_dir()
            shutil.copytree(source, layer.site / "berth", ignore=_ignore_in(source))
            cache.mark_complete(root, layer.layer_id + "\n")
            on_line(f"runtime layer {layer.layer_id[:12]}: ready")


def _ignore_in(source: Path) -> Callable[[str, list[str]], set[str]]:
    """copytree filter: __pycache__ anywhere, *.pyc, and the top-level cli subpackage."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith(".pyc")}
        if Path(directory).resolve() == source and "cli" in names:
            skipped.add("cli")
        return skipped

    return ignore
