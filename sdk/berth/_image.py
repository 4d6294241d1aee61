"""Container images, declared as an immutable chain of build steps.

The steps are recorded, not run: `to_spec()` turns them into a `spec_pb2.ImageSpec` that the
builder turns into a runnable image. Local files are read when the spec is made (by the CLI
on the user's machine), never when the app module is imported inside a container.
"""

from __future__ import annotations

import importlib.util
import os
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ._compat import HostedNames
from ._errors import InvalidError, NotFoundError
from .v1 import spec_pb2

# Where add_local_python_source puts modules; the builder puts this directory on sys.path.
PYTHON_SOURCE_DIR = "/root"


@dataclass(frozen=True)
class _Pip:
    packages: tuple[str, ...]
    extra_args: tuple[str, ...]


@dataclass(frozen=True)
class _Env:
    vars: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _Workdir:
    path: str


@dataclass(frozen=True)
class _LocalFile:
    local_path: str
    remote_path: str


@dataclass(frozen=True)
class _LocalDir:
    local_path: str
    remote_path: str


@dataclass(frozen=True)
class _PythonSource:
    module_names: tuple[str, ...]


_Step = _Pip | _Env | _Workdir | _LocalFile | _LocalDir | _PythonSource


@dataclass(frozen=True)
class Image(metaclass=HostedNames):
    """A container image: a base Python plus build steps, each builder method returning a new Image.

    Start from `Image.debian_slim()` and chain methods::

        image = berth.Image.debian_slim(python_version="3.12").pip_install("fastapi[standard]")
    """

    python_version: str = ""
    steps: tuple[_Step, ...] = ()

    @staticmethod
    def debian_slim(python_version: str | None = None) -> Image:
        """A minimal Debian image with Python (`python_version` like "3.12"; default: the platform's)."""
        if python_version is not None:
            parts = python_version.split(".")
            if not (2 <= len(parts) <= 3 and all(p.isdigit() for p in parts) and parts[0] == "3"):
                raise InvalidError(f"python_version must look like '3.12', got {python_version!r}")
        return Image(python_version=python_version or "")

    def _with(self, step: _Step) -> Image:
        return Image(python_version=self.python_version, steps=(*self.steps, step))

    def pip_install(
        self,
        *packages: str | Sequence[str],
        extra_args: Sequence[str] | str = (),
        index_url: str | None = None,
        extra_index_url: str | None = None,
        find_links: str | None = None,
        pre: bool = False,
        extra_options: str = "",
    ) -> Image:
        """Installs Python packages with pip; strings and lists of strings may be mixed.

        `extra_args` (a list, or one string split like a shell would) is passed to the installer.
        """
        names = _flatten(packages, "pip_install")
        args = list(shlex.split(extra_args) if isinstance(extra_args, str) else extra_args)
        if index_url:
            args += ["--index-url", index_url]
        if extra_index_url:
            args += ["--extra-index-url", extra_index_url]
        if find_links:
            args += ["--find-links", find_links]
        if pre:
            args.append("--pre")
        args += shlex.split(extra_options)
        if not names:
            return self
        return self._with(_Pip(tuple(names), tuple(args)))

    def env(self, vars: Mapping[str, str]) -> Image:
        """Sets environment variables in the image (for later build steps and at run time)."""
        if not isinstance(vars, Mapping):
            raise InvalidError("Image.env() takes a dict of str to str, e.g. .env({'KEY': 'value'})")
        for key, value in vars.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidError(f"Image.env() needs str keys and values, got {key!r}: {value!r}")
        return self._with(_Env(tuple(vars.items())))

    def workdir(self, path: str | PurePosixPath) -> Image:
        """Sets the working directory for later build steps and for the function's process."""
        return self._with(_Workdir(str(path)))

    def add_local_file(self, local_path: str | Path, remote_path: str) -> Image:
        """Copies one local file into the image at `remote_path` (a directory if it ends with '/')."""
        return self._with(_LocalFile(str(local_path), str(remote_path)))

    def add_local_dir(self, local_path: str | Path, remote_path: str) -> Image:
        """Copies a local directory tree (without `__pycache__`) into the image at `remote_path`."""
        return self._with(_LocalDir(str(local_path), str(remote_path)))

    def add_local_python_source(self, *module_names: str) -> Image:
        """Copies local Python modules or packages into the image, importable by name.

        Each module is found with importlib when the spec is made and copied under
        `/root/<module>` (a package) or `/root/<module>.py`; `/root` is put on sys.path.
        """
        for name in module_names:
            if not isinstance(name, str) or not name.isidentifier():
                raise InvalidError(
                    f"add_local_python_source() takes top-level module names like 'mylib', got {name!r}"
                )
        return self._with(_PythonSource(tuple(module_names)))

    def to_spec(self) -> spec_pb2.ImageSpec:
        """The image as a protobuf spec, steps in call order; reads the local files it adds."""
        spec = spec_pb2.ImageSpec(python_version=self.python_version)
        for step in self.steps:
            spec.steps.append(_step_spec(step))
        return spec


def _flatten(packages: Iterable[str | Sequence[str]], where: str) -> list[str]:
    names: list[str] = []
    for item in packages:
        group = [item] if isinstance(item, str) else list(item)
        for name in group:
            if not isinstance(name, str):
                raise InvalidError(f"{where}() takes package names as strings, got {name!r}")
            if name.strip():
                names.append(name.strip())
    return names


def _step_spec(step: _Step) -> spec_pb2.ImageStep:
    if isinstance(step, _Pip):
        return spec_pb2.ImageStep(
            pip_install=spec_pb2.PipInstall(packages=step.packages, extra_args=step.extra_args)
        )
    if isinstance(step, _Env):
        return spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars=dict(sorted(step.vars))))
    if isinstance(step, _Workdir):
        return spec_pb2.ImageStep(workdir=step.path)
    if isinstance(step, _LocalFile):
        return spec_pb2.ImageStep(add_files=_local_file(step.local_path, step.remote_path))
    if isinstance(step, _LocalDir):
        return spec_pb2.ImageStep(add_files=_local_dir(step.local_path, step.remote_path))
    return spec_pb2.ImageStep(add_files=_python_source(step.module_names))


def _file(local: Path, path: str) -> spec_pb2.ImageFile:
    return spec_pb2.ImageFile(path=path, content=local.read_bytes(), mode=local.stat().st_mode & 0o777)


def _local_file(local_path: str, remote_path: str) -> spec_pb2.AddFiles:
    local = Path(local_path)
    if not local.is_file():
        raise NotFoundError(f"add_local_file(): {local_path!r} is not a file on this machine")
    if remote_path.endswith("/"):
        directory, name = remote_path.rstrip("/") or "/", local.name
    else:
        remote = PurePosixPath(remote_path)
        directory, name = str(remote.parent), remote.name
    return spec_pb2.AddFiles(remote_path=directory, files=[_file(local, name)])


def _walk(root: Path, prefix: str = "") -> list[spec_pb2.ImageFile]:
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for filename in sorted(filenames):
            if filename.endswith(".pyc"):
                continue
            local = Path(dirpath, filename)
            rel = local.relative_to(root).as_posix()
            files.append(_file(local, f"{prefix}{rel}"))
    return files


def _local_dir(local_path: str, remote_path: str) -> spec_pb2.AddFiles:
    local = Path(local_path)
    if not local.is_dir():
        raise NotFoundError(f"add_local_dir(): {local_path!r} is not a directory on this machine")
    return spec_pb2.AddFiles(remote_path=remote_path, files=_walk(local))


def _python_source(module_names: tuple[str, ...]) -> spec_pb2.AddFiles:
    files: list[spec_pb2.ImageFile] = []
    for name in module_names:
        found = importlib.util.find_spec(name)
        if found is None or found.origin in (None, "built-in", "frozen"):
            raise NotFoundError(
                f"add_local_python_source({name!r}): no local module or package named {name!r} "
                "is importable here; check sys.path and the spelling"
            )
        if found.submodule_search_locations:
            package_dir = Path(next(iter(found.submodule_search_locations)))
            files += _walk(package_dir, prefix=f"{name}/")
        else:
            origin = Path(str(found.origin))
            if origin.suffix != ".py":
                raise InvalidError(f"add_local_python_source({name!r}): {origin} is not Python source")
            files.append(_file(origin, f"{name}.py"))
    return spec_pb2.AddFiles(remote_path=PYTHON_SOURCE_DIR, files=files, python_path=True)
