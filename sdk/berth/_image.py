"""Container images, declared as an immutable chain of build steps.

The steps are recorded, not run: `to_spec()` turns them into a `spec_pb2.ImageSpec` that the
builder turns into a runnable image. Local files (and requirements files) are read when the spec
is made (by the CLI on the user's machine), never when the app module is imported inside a
container.

Which runtime honours which step is the platform's business: run_commands, apt_install and
from_registry need the Docker runtime, and the process runtime refuses them at deploy.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import shlex
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ._compat import HostedNames
from ._errors import InvalidError, NotFoundError
from .exception import NotSupportedError
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


@dataclass(frozen=True)
class _Requirements:
    """A requirements file, read into a pip step when the spec is made."""

    path: str
    extra_args: tuple[str, ...]
    where: str  # the method's name, for messages


@dataclass(frozen=True)
class _Commands:
    commands: tuple[str, ...]


@dataclass(frozen=True)
class _Apt:
    packages: tuple[str, ...]


_Step = _Pip | _Env | _Workdir | _LocalFile | _LocalDir | _PythonSource | _Requirements | _Commands | _Apt
# Debian package names (policy 5.6.7), optionally with =version, /release or an :arch qualifier.
_APT_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?([=/][A-Za-z0-9.+~:_-]+)?")


@dataclass(frozen=True)
class Image(metaclass=HostedNames):
    """A container image: a base Python plus build steps, each builder method returning a new Image.

    Start from `Image.debian_slim()` and chain methods::

        image = berth.Image.debian_slim(python_version="3.12").pip_install("fastapi[standard]")
    """

    python_version: str = ""
    steps: tuple[_Step, ...] = ()
    registry_tag: str = ""
    add_python: str = ""

    @staticmethod
    def debian_slim(python_version: str | None = None) -> Image:
        """A minimal Debian image with Python (`python_version` like "3.12"; default: the platform's)."""
        if python_version is not None:
            parts = python_version.split(".")
            if not (2 <= len(parts) <= 3 and all(p.isdigit() for p in parts) and parts[0] == "3"):
                raise InvalidError(f"python_version must look like '3.12', got {python_version!r}")
        return Image(python_version=python_version or "")

    @staticmethod
    def from_registry(tag: str, secret: Any = None, *, add_python: str | None = None) -> Image:
        """An image starting from `tag` in a container registry (e.g. "python:3.12-slim").

        Docker runtime only: the engine must have the image or be able to pull it, and it must
        have a `python3` of 3.11 or newer on its PATH. `add_python` (installing a Python into an
        image without one) and registry credentials (`secret`) are not supported.
        """
        if not isinstance(tag, str) or not tag.strip() or any(c.isspace() for c in tag.strip()):
            raise InvalidError(
                f"from_registry() takes an image reference like 'python:3.12-slim', got {tag!r}"
            )
        if secret is not None:
            raise NotSupportedError(
                f"from_registry({tag!r}, secret=...) (private registries)",
                "pull the image on the platform's Docker engine first (`docker pull`), then drop `secret=`",
            )
        if add_python is not None:
            raise NotSupportedError(
                f"from_registry({tag!r}, add_python={add_python!r})",
                "Berth cannot add a Python to a registry image; start from an image that has python3 "
                f"(3.11 or newer), such as 'python:{add_python}-slim', and drop `add_python=`",
            )
        return Image(registry_tag=tag.strip())

    def _with(self, step: _Step) -> Image:
        return Image(
            python_version=self.python_version,
            steps=(*self.steps, step),
            registry_tag=self.registry_tag,
            add_python=self.add_python,
        )

    def pip_install(
        self,
        *packages: str | Sequence[str],
        extra_args: Sequence[str] | str = (),
        index_url: str | None = None,
        extra_index_url: str | None = None,
        find_links: str | None = None,
        pre: bool = False,
        extra_options: str = "",
        secrets: Sequence[Any] = (),
    ) -> Image:
        """Installs Python packages with pip; strings and lists of strings may be mixed.

        `index_url`, `extra_index_url` and `find_links` must name hosts the platform's builder
        allows (PyPI unless the operator allows more), or the build fails naming the host.
        `extra_args` (a list, or one string split like a shell would) and `extra_options` are
        passed to the installer; only installer options the builder allows are accepted.
        """
        _no_secrets("pip_install", secrets)
        names = _flatten(packages, "pip_install")
        args = _install_options(extra_args, index_url, extra_index_url, find_links, pre, extra_options)
        if not names:
            return self
        return self._with(_Pip(tuple(names), tuple(args)))

    def uv_pip_install(
        self,
        *packages: str | Sequence[str],
        requirements: Sequence[str | Path] | None = None,
        find_links: str | None = None,
        index_url: str | None = None,
        extra_index_url: str | None = None,
        pre: bool = False,
        extra_options: str = "",
        secrets: Sequence[Any] = (),
    ) -> Image:
        """Installs Python packages with uv (what every Berth pip step uses); as `pip_install`.

        `requirements` lists requirements files read when the app is deployed, on this machine.
        """
        _no_secrets("uv_pip_install", secrets)
        names = _flatten(packages, "uv_pip_install")
        args = _install_options((), index_url, extra_index_url, find_links, pre, extra_options)
        image = self
        for path in requirements or ():
            image = image._with(_Requirements(str(path), tuple(args), "uv_pip_install"))
        if not names:
            return image
        return image._with(_Pip(tuple(names), tuple(args)))

    def pip_install_from_requirements(
        self,
        requirements_txt: str | Path,
        find_links: str | None = None,
        *,
        index_url: str | None = None,
        extra_index_url: str | None = None,
        pre: bool = False,
        extra_options: str = "",
        secrets: Sequence[Any] = (),
    ) -> Image:
        """Installs the packages a local requirements file lists.

        The file is read when the app is deployed, on this machine; its package lines and its
        options (`--index-url`, `--find-links`, `--pre`, `-r other.txt`, ...) become the install.
        """
        _no_secrets("pip_install_from_requirements", secrets)
        args = _install_options((), index_url, extra_index_url, find_links, pre, extra_options)
        return self._with(_Requirements(str(requirements_txt), tuple(args), "pip_install_from_requirements"))

    def run_commands(self, *commands: str | Sequence[str], secrets: Sequence[Any] = ()) -> Image:
        """Runs shell commands (`sh -c`, as root, in order) in the image at build time.

        Docker runtime only. Commands reach the network only through the builder's allow-list
        proxy (package indexes and Debian's mirrors unless the operator allows more).
        """
        _no_secrets("run_commands", secrets)
        found = _flatten(commands, "run_commands")
        if not found:
            return self
        return self._with(_Commands(tuple(found)))

    def apt_install(self, *packages: str | Sequence[str], secrets: Sequence[Any] = ()) -> Image:
        """Installs Debian packages with apt-get in the image at build time. Docker runtime only."""
        _no_secrets("apt_install", secrets)
        names = _flatten(packages, "apt_install")
        for name in names:
            if not _APT_PACKAGE.fullmatch(name):
                raise InvalidError(f"apt_install(): {name!r} is not a Debian package name")
        if not names:
            return self
        return self._with(_Apt(tuple(names)))

    @contextlib.contextmanager
    def imports(self) -> Iterator[None]:
        """Imports inside `with image.imports():` may fail on this machine (the packages are in
        the image, not here); inside the image's containers their errors propagate as usual."""
        try:
            yield
        except ImportError:
            if _inside_container():
                raise

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
        """Copies one local file into the image at `remote_path` (a directory if it ends with '/').

        On the Docker runtime the function sees the file at exactly that path. The process runtime
        refuses an absolute `remote_path` at deploy (its containers see the host's own file
        system); a relative one is relative to the image's workdir."""
        return self._with(_LocalFile(str(local_path), str(remote_path)))

    def add_local_dir(self, local_path: str | Path, remote_path: str) -> Image:
        """Copies a local directory tree (without `__pycache__`) into the image at `remote_path`.

        Where the function sees it: as for `add_local_file`."""
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
        spec = spec_pb2.ImageSpec(
            python_version=self.python_version, registry_tag=self.registry_tag, add_python=self.add_python
        )
        for step in self.steps:
            spec.steps.append(_step_spec(step))
        return spec


def _no_secrets(where: str, secrets: Sequence[Any]) -> None:
    if secrets:
        raise NotSupportedError(
            f"{where}(secrets=...) (secrets in build steps)",
            "builds run sandboxed, without credentials; use the secret when the container starts, "
            "with @app.function(secrets=[...]), and drop `secrets=` here",
        )


def _install_options(
    extra_args: Sequence[str] | str,
    index_url: str | None,
    extra_index_url: str | None,
    find_links: str | None,
    pre: bool,
    extra_options: str,
) -> list[str]:
    args = list(shlex.split(extra_args) if isinstance(extra_args, str) else extra_args)
    if index_url:
        args += ["--index-url", index_url]
    if extra_index_url:
        args += ["--extra-index-url", extra_index_url]
    if find_links:
        args += ["--find-links", find_links]
    if pre:
        args.append("--pre")
    return args + shlex.split(extra_options)


def _inside_container() -> bool:
    # The in-container runner is the only importer of berth._runtime.main.
    return "berth._runtime.main" in sys.modules


def requirements_lines(path: Path, where: str, seen: tuple[Path, ...] = ()) -> tuple[list[str], list[str]]:
    """(packages, options) of a requirements file; `-r`/`--requirement` files are read in place.

    Editable installs and constraint files are refused, as are per-line options (hashes): the
    builder installs what the lines name, and nothing it cannot honour is dropped silently.
    """
    if not path.is_file():
        raise NotFoundError(f"{where}(): requirements file {str(path)!r} is not a file on this machine")
    if path.resolve() in seen:
        raise InvalidError(f"{where}(): {path} includes itself (through -r)")
    packages: list[str] = []
    options: list[str] = []
    text = re.sub(r"\\\n", " ", path.read_text())
    for number, raw in enumerate(text.splitlines(), start=1):
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if not line:
            continue
        shown = f"{where}(): {path.name} line {number} ({line!r})"
        if not line.startswith("-"):
            if re.search(r"\s--?[A-Za-z]", line):
                raise InvalidError(f"{shown}: per-line options (such as --hash) are not supported")
            packages.append(line)
            continue
        words = shlex.split(line)
        name = words[0].split("=", 1)[0]
        if name in ("-r", "--requirement"):
            nested = words[0].split("=", 1)[1] if "=" in words[0] else (words[1] if len(words) > 1 else "")
            if not nested:
                raise InvalidError(f"{shown}: -r needs a file name")
            more, more_options = requirements_lines(path.parent / nested, where, (*seen, path.resolve()))
            packages += more
            options += more_options
        elif name in ("-e", "--editable", "-c", "--constraint"):
            raise InvalidError(
                f"{shown}: editable installs and constraint files are not supported; "
                "list the packages (or add the directory with add_local_dir and install its path)"
            )
        else:
            options += words
    return packages, options


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
    if isinstance(step, _Requirements):
        packages, options = requirements_lines(Path(step.path), step.where)
        return spec_pb2.ImageStep(
            pip_install=spec_pb2.PipInstall(packages=packages, extra_args=[*options, *step.extra_args])
        )
    if isinstance(step, _Commands):
        return spec_pb2.ImageStep(run_commands=spec_pb2.RunCommands(commands=step.commands))
    if isinstance(step, _Apt):
        return spec_pb2.ImageStep(apt_install=spec_pb2.AptInstall(packages=step.packages))
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
