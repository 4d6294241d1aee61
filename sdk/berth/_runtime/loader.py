"""Loading the user's code: importing the entry module and building the ASGI app to serve."""

from __future__ import annotations

import importlib.util
import inspect
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from berth import _spec_rules as spec_rules
from berth._cls import Cls
from berth._function import Function
from berth.v1 import bus_pb2, spec_pb2

from . import calls, hooks
from .types import ASGIApp

FASTAPI_HINT = (
    "fastapi_endpoint needs FastAPI in the function's image: "
    'add .pip_install("fastapi[standard]") to its Image'
)
A2WSGI_HINT = 'wsgi_app needs a2wsgi in the function\'s image: add .pip_install("a2wsgi") to its Image'


class LoadError(Exception):
    """Start-up failed; the message is for the user."""


@dataclass
class Loaded:
    """What start-up produced: the app to serve, and the class instance whose exit hooks run at shutdown."""

    app: ASGIApp
    instance: Any = None
    # Serves streams whose head carries a CallHead (`f.remote()`): calls.py.
    call: ASGIApp | None = None
    enter_methods: list[str] = field(default_factory=list)
    exit_methods: list[str] = field(default_factory=list)


def describe(exc: BaseException, code_dir: str) -> str:
    """`Type: message (at file:line)`, pointing at the innermost frame in the user's code."""
    text = f"{type(exc).__name__}: {exc}"
    location = None
    if isinstance(exc, SyntaxError) and exc.filename:
        location = f"{exc.filename}:{exc.lineno}"
    else:
        root = str(Path(code_dir).resolve())
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if str(Path(frame.filename).resolve()).startswith(root):
                location = f"{frame.filename}:{frame.lineno}"
                break
    if location:
        text += f" (at {location})"
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        text += f": add the package providing {exc.name!r} to the function's Image with .pip_install(...)"
    return text


def import_entry(code_dir: str, entry_module: str) -> ModuleType:
    """Imports the bundle's entry module under its stem name, so `import app` finds the same module."""
    if code_dir not in sys.path:
        sys.path.insert(0, code_dir)
    path = Path(code_dir, entry_module)
    name = path.stem
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise LoadError(f"cannot load {entry_module} from {code_dir}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


async def _call(fn: Any) -> Any:
    result = fn()
    if inspect.isawaitable(result):
        result = await result
    return result


def fastapi_app(fn: Any, web: spec_pb2.WebSpec) -> ASGIApp:
    """The function wrapped in a FastAPI app at "/", with permissive CORS as the hosted service does."""
    try:
        from fastapi import FastAPI
        from fastapi.middleware.cors import CORSMiddleware
    except ImportError as exc:
        raise LoadError(f"{FASTAPI_HINT} ({type(exc).__name__}: {exc})") from exc
    app = FastAPI(
        docs_url="/docs" if web.docs else None,
        openapi_url="/openapi.json" if web.docs else None,
        redoc_url=None,
    )
    app.add_api_route("/", fn, methods=[web.method or "GET"])
    app.add_middleware(
        CORSMiddleware, allow_origins=["*"], allow_methods=["*"], allow_headers=["*"], allow_credentials=True
    )
    return app


def wsgi_app(wsgi: Any, max_inputs: int) -> ASGIApp:
    try:
        from a2wsgi import WSGIMiddleware
    except ImportError as exc:
        raise LoadError(f"{A2WSGI_HINT} ({type(exc).__name__}: {exc})") from exc
    return cast(ASGIApp, WSGIMiddleware(wsgi, workers=max(1, max_inputs)))


def _target(module: ModuleType, order: bus_pb2.BootOrder) -> tuple[Any, Loaded]:
    spec = order.function
    obj = getattr(module, spec.object_name, None)
    if obj is None:
        raise LoadError(
            f"{order.entry_module} has no attribute {spec.object_name!r} (function {spec.name!r})"
        )
    loaded = Loaded(app=None)  # type: ignore[arg-type]
    if spec.method_name:
        if not isinstance(obj, Cls):
            raise LoadError(f"{spec.object_name} in {order.entry_module} is not an @app.cls() class")
        loaded.instance = hooks.instantiate(obj, dict(order.parameters))
        loaded.exit_methods = list(obj.exit_methods)
        loaded.enter_methods = list(obj.enter_methods)
        return getattr(loaded.instance, spec.method_name), loaded
    if isinstance(obj, Function):
        return obj.get_raw_f(), loaded
    if callable(obj):
        return obj, loaded
    raise LoadError(f"{spec.object_name} in {order.entry_module} is not a function")


async def load(order: bus_pb2.BootOrder, code_dir: str) -> Loaded:
    """Imports the user's code, runs class set-up and @enter hooks, and builds the ASGI app."""
    module = import_entry(code_dir, order.entry_module)
    fn, loaded = _target(module, order)
    if loaded.instance is not None:
        await hooks.run_hooks(loaded.instance, loaded.enter_methods)
    spec = order.function
    kind = spec.web.kind
    if kind in (spec_pb2.WEB_KIND_UNSPECIFIED, spec_pb2.WEB_KIND_FASTAPI_ENDPOINT):
        loaded.call = calls.CallApp(fn, spec.name)
    else:
        # Calling an app factory or a server starter would only build another app: refused.
        loaded.call = calls.refusing(spec.name)
    if kind == spec_pb2.WEB_KIND_UNSPECIFIED:
        loaded.app = calls.not_web(spec.name)  # a call-only container
        return loaded
    if kind == spec_pb2.WEB_KIND_FASTAPI_ENDPOINT:
        loaded.app = fastapi_app(fn, spec.web)
    elif kind == spec_pb2.WEB_KIND_ASGI_APP:
        loaded.app = await _call(fn)
    elif kind == spec_pb2.WEB_KIND_WSGI_APP:
        loaded.app = wsgi_app(await _call(fn), spec_rules.max_inputs(spec.scaling))
    elif kind == spec_pb2.WEB_KIND_WEB_SERVER:
        from .proxy import proxy_app, wait_for_port

        await _call(fn)
        await wait_for_port(spec.web.port, spec_rules.server_startup_timeout(spec.web))
        loaded.app = proxy_app(spec.web.port)
    else:
        raise LoadError(f"function {spec.name!r} is not a web function (no web decorator); nothing to serve")
    if not callable(loaded.app):
        raise LoadError(
            f"{spec.name} returned {loaded.app!r}, not an app; return the app object from the function"
        )
    return loaded
