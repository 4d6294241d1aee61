"""Importing a user's app file locally and bundling its sources."""

from __future__ import annotations

import importlib.util
import io
import sys
import traceback
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from berth._app import App
from berth._errors import InvalidError
from berth._spec import find_app

_SKIPPED = {".venv", "venv", "site-packages", "__pycache__", "node_modules", "build", "dist"}
MAX_SOURCE_FILES = 2000
MAX_SOURCE_BYTES = 64 << 20

# Fixed timestamps make the bundle's bytes, and so its id, depend on the sources alone.
_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class LoadedApp:
    app: App
    module: ModuleType
    path: Path
    sources: dict[str, bytes]  # bundle path -> content


def _import(path: Path) -> ModuleType:
    directory = str(path.parent)
    sys.path.insert(0, directory)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    previous = sys.modules.get(path.stem)
    sys.modules[path.stem] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        # A failed import must not leave a half-made module behind, nor hide the one it replaced.
        if previous is not None:
            sys.modules[path.stem] = previous
        else:
            sys.modules.pop(path.stem, None)
        raise
    finally:
        sys.path.remove(directory)
    return module


def load_app_file(path: Path) -> LoadedApp:
    """Imports `path` the way a container will, and finds its App. Errors say where and why."""
    path = path.resolve()
    if not path.is_file():
        raise InvalidError(f"{path}: no such file")
    if path.suffix != ".py":
        raise InvalidError(f"{path}: an app file must be a .py file")
    try:
        module = _import(path)
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}" if exc.lineno else str(exc.filename)
        text = (exc.text or "").rstrip("\n")
        caret = " " * max(0, (exc.offset or 1) - 1 - (len(text) - len(text.lstrip()))) + "^"
        raise InvalidError(f"syntax error in {where}: {exc.msg}\n    {text.strip()}\n    {caret}") from None
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] != "modal":
            raise InvalidError(_import_failure(path, exc)) from None
        raise InvalidError(
            f"importing {path.name} failed: No module named {exc.name!r}. Berth runs apps written for "
            "Modal with one change: write `import berth as modal` instead of `import modal` (and "
            "`from berth import ...` instead of `from modal import ...`)"
        ) from None
    except Exception as exc:  # noqa: BLE001 - any import failure is the user's to see, with its trace
        raise InvalidError(_import_failure(path, exc)) from None
    app = find_app(module)
    return LoadedApp(app=app, module=module, path=path, sources=local_sources(path))


def _import_failure(path: Path, exc: BaseException) -> str:
    """The exception and the user's own frames of its trace (the loader's are noise to them)."""
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if not f.filename.startswith(str(Path(__file__).parent.parent))]
    trace = "".join(traceback.format_list(user[-5:]))
    return f"importing {path.name} failed: {type(exc).__name__}: {exc}\n{trace}".rstrip()


def local_sources(path: Path) -> dict[str, bytes]:
    """The app file and the Python files beside it (packages below included): what its code can
    import, whether at module level or lazily inside a function. Virtualenvs, caches and hidden
    directories are skipped; a directory too big to be an app's source is refused."""
    root = path.parent
    sources = {path.name: path.read_bytes()}
    total = len(sources[path.name])
    for source in sorted(root.rglob("*.py")):
        relative = source.relative_to(root)
        if source == path or any(part in _SKIPPED or part.startswith(".") for part in relative.parts[:-1]):
            continue
        content = source.read_bytes()
        total += len(content)
        if len(sources) >= MAX_SOURCE_FILES or total > MAX_SOURCE_BYTES:
            raise InvalidError(
                f"{root} holds more Python source than an app bundle takes ({MAX_SOURCE_FILES} files, "
                f"{MAX_SOURCE_BYTES >> 20} MiB): move the app file into a directory of its own"
            )
        sources[str(relative)] = content
    return sources


def bundle(sources: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(sources):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, sources[name])
    return buffer.getvalue()
