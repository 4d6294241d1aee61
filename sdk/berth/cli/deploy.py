"""`berth deploy FILE`: build, store and serve an app; print one URL per web function."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import grpc

from berth._app import App
from berth._compat import RenamedWarning
from berth._errors import Error
from berth._function import Function
from berth._spec import build_app_spec
from berth.cli.client import Api, translate
from berth.cli.loading import LoadedApp, bundle, load_app_file
from berth.v1 import control_pb2


def app_name(loaded_name: str | None, flag: str | None, path: Path) -> str:
    """App(name) wins, then --name, then the file's stem."""
    return loaded_name or flag or path.stem


def placement_notice(app: App) -> str:
    """One line naming the functions that ask for a region or cloud (accepted, and ignored: a
    Berth platform has one region); "" when none does."""
    asked = []
    for name, obj in app._objects.items():
        ignored = list(obj.options.ignored)
        webs = [obj.web] if isinstance(obj, Function) else list(obj.web_methods.values())
        ignored += [text for web in webs if web is not None for text in web.ignored]
        if ignored:
            asked.append(f"{name} ({', '.join(ignored)})")
    if not asked:
        return ""
    return f"notice: region and cloud options are ignored, this platform has one region: {'; '.join(asked)}"


def load_with_notices(path: Path, echo: Callable[[str], None]) -> LoadedApp:
    """Imports the app file, echoing a line for each former name it uses (`keep_warm=`, ...) and
    one for the region/cloud options it sets: all of them work or are ignored, so say which."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RenamedWarning)
        loaded = load_app_file(path)
    for warning in caught:
        if issubclass(warning.category, RenamedWarning):
            echo(f"warning: {warning.message}")
        else:  # the app's own warnings, shown as they would have been
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
    notice = placement_notice(loaded.app)
    if notice:
        echo(notice)
    return loaded


def deploy_file(
    path: Path,
    *,
    name: str | None = None,
    ephemeral: bool = False,
    api: Api | None = None,
    echo: Callable[[str], None] = lambda line: print(line, file=sys.stderr),
    verbose: bool = False,
) -> control_pb2.DeployResult:
    """Deploys the app in `path` and returns its URLs. Raises a `berth.Error` on any failure.

    The build's progress is echoed as the builder summarises it; `verbose` adds what the summary
    lines stand for (each package uv installed)."""
    loaded = load_with_notices(path, echo)
    spec = build_app_spec(loaded.app, entry_module=loaded.path.name)
    spec.name = app_name(loaded.app.name, name, loaded.path)
    request = control_pb2.DeployRequest(app=spec, bundle=bundle(loaded.sources), ephemeral=ephemeral)
    api = api or Api()
    result: control_pb2.DeployResult | None = None
    try:
        for event in api.control.Deploy(request, metadata=api.metadata):
            kind = event.WhichOneof("event")
            if kind == "log_line":
                echo(f"  {event.log_line}")
            elif kind == "detail_line":
                if verbose:
                    echo(f"    {event.detail_line}")
            elif kind == "image":
                image = event.image
                how = "cached" if image.cache_hit else f"built, {image.installed} packages installed"
                echo(f"image {image.image_id[:12]}: {how}")
            elif kind == "result":
                result = event.result
    except grpc.RpcError as exc:
        raise translate(exc) from None
    if result is None:
        raise Error("the deploy ended without a result; see the scheduler log")
    return result
