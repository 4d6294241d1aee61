"""`berth deploy FILE`: build, store and serve an app; print one URL per web function."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import grpc

from berth._errors import Error
from berth._spec import build_app_spec
from berth.cli.client import Api, translate
from berth.cli.loading import bundle, load_app_file
from berth.v1 import control_pb2


def app_name(loaded_name: str | None, flag: str | None, path: Path) -> str:
    """App(name) wins, then --name, then the file's stem."""
    return loaded_name or flag or path.stem


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
    loaded = load_app_file(path)
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
