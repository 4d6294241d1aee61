"""Decorators that mark a function (or method) as a web endpoint, concurrent, or a lifecycle hook.

They return the function itself with a frozen definition attached, so it stays callable and
introspectable (FastAPI reads its signature). `@app.function()` / `@app.cls()` go on top and
read what these attached.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from ._domains import DomainError, normalize_domain
from ._errors import InvalidError
from .v1 import spec_pb2

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

WEB_ATTR = "__berth_web__"
CONCURRENT_ATTR = "__berth_concurrent__"
HOOK_ATTR = "__berth_hook__"

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass(frozen=True)
class WebConfig:
    """What a web decorator declared; becomes the function's `WebSpec`."""

    decorator: str
    kind: spec_pb2.WebKind
    method: str = ""
    label: str | None = None
    docs: bool = False
    requires_proxy_auth: bool = False
    custom_domains: tuple[str, ...] = ()
    port: int = 0
    startup_timeout: float = 0.0
    # Arguments accepted for compatibility and ignored (proxy_regions=...): `berth deploy` says so.
    ignored: tuple[str, ...] = ()

    def to_spec(self) -> spec_pb2.WebSpec:
        return spec_pb2.WebSpec(
            kind=self.kind,
            method=self.method,
            label=self.label or "",
            docs=self.docs,
            requires_proxy_auth=self.requires_proxy_auth,
            custom_domains=self.custom_domains,
            port=self.port,
            startup_timeout=self.startup_timeout,
        )


@dataclass(frozen=True)
class Concurrency:
    """What `@berth.concurrent()` declared."""

    max_inputs: int
    target_inputs: int | None = None


def is_registered(obj: object) -> bool:
    """True for what @app.function() / @app.cls() return."""
    return getattr(type(obj), "_berth_registered", False) is True


def check_no_positional(decorator: str, args: tuple[object, ...], example: str) -> None:
    """Fails clearly when a decorator factory is used bare or given positional arguments."""
    if not args:
        return
    if len(args) == 1 and callable(args[0]):
        raise InvalidError(f"Did you forget parentheses? Use @{decorator}()")
    raise InvalidError(f"{decorator}() takes keyword arguments only, e.g. @{example}")


def web_config(obj: object) -> WebConfig | None:
    value = getattr(obj, WEB_ATTR, None)
    return value if isinstance(value, WebConfig) else None


def concurrency(obj: object) -> Concurrency | None:
    value = getattr(obj, CONCURRENT_ATTR, None)
    return value if isinstance(value, Concurrency) else None


def _check_target(decorator: str, fn: object, *, factory: bool) -> None:
    if is_registered(fn):
        raise InvalidError(
            f"@{decorator}() must be applied below @app.function() (or on a method inside @app.cls()); "
            "put @app.function() on top"
        )
    if isinstance(fn, type):
        raise InvalidError(f"@{decorator}() goes on a function or a method, not on the class {fn.__name__}")
    if not inspect.isfunction(fn):
        raise InvalidError(f"@{decorator}() goes on a function, got {type(fn).__name__}")
    existing = web_config(fn)
    if existing is not None:
        raise InvalidError(
            f"{fn.__qualname__} has two web decorators (@{existing.decorator}() and @{decorator}()); "
            "keep only one"
        )
    if factory:
        params = [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]
        required = [
            p.name
            for p in params
            if p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]
        if required:
            raise InvalidError(
                f"@{decorator}() function {fn.__qualname__} must take no arguments (it is called once "
                f"per container to build the app), but it takes {', '.join(required)}"
            )


def _common(decorator: str, label: str | None, custom_domains: Iterable[str] | None) -> tuple[str, ...]:
    if label is not None and (not isinstance(label, str) or not _LABEL.fullmatch(label)):
        raise InvalidError(
            f"{decorator}(label={label!r}): a label is lowercase letters, digits and dashes "
            "(at most 63, not starting or ending with a dash)"
        )
    if custom_domains is None:
        return ()
    if isinstance(custom_domains, str):
        raise InvalidError(
            f"{decorator}(custom_domains=...) takes a list of domains, e.g. ['api.example.com']"
        )
    domains: list[str] = []
    for domain in custom_domains:
        try:
            name = normalize_domain(domain)
        except DomainError as exc:
            raise InvalidError(f"{decorator}(custom_domains=...): {exc}") from None
        if name in domains:
            raise InvalidError(f"{decorator}(custom_domains=...) names {name!r} twice")
        domains.append(name)
    return tuple(domains)


def _attach(decorator: str, config: WebConfig, *, factory: bool) -> Callable[[F], F]:
    def wrap(fn: F) -> F:
        _check_target(decorator, fn, factory=factory)
        setattr(fn, WEB_ATTR, config)
        return fn

    return wrap


def fastapi_endpoint(
    *args: object,
    method: str = "GET",
    label: str | None = None,
    docs: bool = False,
    requires_proxy_auth: bool = False,
    custom_domains: Iterable[str] | None = None,
) -> Callable[[F], F]:
    """Serves the function as an HTTP endpoint through FastAPI at the root path of its URL.

    Arguments become query parameters (or the JSON body for POST); the return value is
    JSON-encoded unless it is a FastAPI/Starlette Response. The function's image needs FastAPI
    (`.pip_install("fastapi[standard]")`). `label` replaces the app and function names in the URL;
    `custom_domains=["api.example.com"]` also serves it at those names once their DNS points at
    the edge (each domain belongs to one app: a deploy naming one another app holds fails).
    The other web decorators take `label`, `requires_proxy_auth` and `custom_domains` too.
    Apply below `@app.function()`::

        @app.function()
        @berth.fastapi_endpoint(method="POST")
        def square(item: dict):
            return {"square": item["x"] ** 2}
    """
    check_no_positional("berth.fastapi_endpoint", args, "berth.fastapi_endpoint(method='POST')")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise InvalidError(
            f"fastapi_endpoint(method={method!r}): method must be one of {', '.join(HTTP_METHODS)}"
        )
    domains = _common("fastapi_endpoint", label, custom_domains)
    config = WebConfig(
        "berth.fastapi_endpoint",
        spec_pb2.WEB_KIND_FASTAPI_ENDPOINT,
        method=method.upper(),
        label=label,
        docs=bool(docs),
        requires_proxy_auth=bool(requires_proxy_auth),
        custom_domains=domains,
    )
    return _attach("berth.fastapi_endpoint", config, factory=False)


web_endpoint = fastapi_endpoint
"""Former name of `fastapi_endpoint`, kept as an alias."""


def asgi_app(
    *args: object,
    label: str | None = None,
    requires_proxy_auth: bool = False,
    custom_domains: Iterable[str] | None = None,
) -> Callable[[F], F]:
    """Serves the ASGI app (FastAPI, Starlette, FastHTML, ...) that the decorated function returns.

    The function takes no arguments and is called once per container; the app's ASGI lifespan
    runs at container start and shutdown.
    """
    check_no_positional("berth.asgi_app", args, "berth.asgi_app()")
    domains = _common("asgi_app", label, custom_domains)
    config = WebConfig(
        "berth.asgi_app",
        spec_pb2.WEB_KIND_ASGI_APP,
        label=label,
        requires_proxy_auth=bool(requires_proxy_auth),
        custom_domains=domains,
    )
    return _attach("berth.asgi_app", config, factory=True)


def wsgi_app(
    *args: object,
    label: str | None = None,
    requires_proxy_auth: bool = False,
    custom_domains: Iterable[str] | None = None,
) -> Callable[[F], F]:
    """Serves the WSGI app (Flask, Django, ...) that the decorated function returns.

    Requests run on a thread pool sized to the function's `@berth.concurrent(max_inputs=...)`.
    """
    check_no_positional("berth.wsgi_app", args, "berth.wsgi_app()")
    domains = _common("wsgi_app", label, custom_domains)
    config = WebConfig(
        "berth.wsgi_app",
        spec_pb2.WEB_KIND_WSGI_APP,
        label=label,
        requires_proxy_auth=bool(requires_proxy_auth),
        custom_domains=domains,
    )
    return _attach("berth.wsgi_app", config, factory=True)


def web_server(
    port: int,
    *,
    startup_timeout: float = 5.0,
    label: str | None = None,
    requires_proxy_auth: bool = False,
    custom_domains: Iterable[str] | None = None,
) -> Callable[[F], F]:
    """Exposes a server that the decorated function starts, listening on `port` on 0.0.0.0.

    The function is called once per container and should start the server in the background
    (e.g. with `subprocess.Popen`); requests are proxied once the port accepts connections,
    waiting at most `startup_timeout` seconds.
    """
    if callable(port):
        raise InvalidError("Did you forget parentheses and the port? Use @berth.web_server(8000)")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise InvalidError(f"web_server(port={port!r}): port must be an int from 1 to 65535, e.g. 8000")
    if (
        isinstance(startup_timeout, bool)
        or not isinstance(startup_timeout, int | float)
        or startup_timeout <= 0
    ):
        raise InvalidError(
            f"web_server(startup_timeout={startup_timeout!r}): must be a positive number of seconds"
        )
    domains = _common("web_server", label, custom_domains)
    config = WebConfig(
        "berth.web_server",
        spec_pb2.WEB_KIND_WEB_SERVER,
        label=label,
        requires_proxy_auth=bool(requires_proxy_auth),
        custom_domains=domains,
        port=port,
        startup_timeout=float(startup_timeout),
    )
    return _attach("berth.web_server", config, factory=True)


def concurrent(
    *args: object, max_inputs: int | None = None, target_inputs: int | None = None
) -> Callable[[T], T]:
    """Lets one container handle up to `max_inputs` requests at once.

    `target_inputs` (at most `max_inputs`) is what the autoscaler aims for per container, leaving
    headroom for bursts. Apply below `@app.function()` or `@app.cls()`.
    """
    check_no_positional("berth.concurrent", args, "berth.concurrent(max_inputs=100)")
    if isinstance(max_inputs, bool) or not isinstance(max_inputs, int) or max_inputs < 1:
        raise InvalidError(f"concurrent(max_inputs={max_inputs!r}): max_inputs must be an int >= 1")
    if target_inputs is not None and (
        isinstance(target_inputs, bool)
        or not isinstance(target_inputs, int)
        or not 1 <= target_inputs <= max_inputs
    ):
        raise InvalidError(
            f"concurrent(target_inputs={target_inputs!r}): target_inputs must be an int from 1 to max_inputs"
        )
    config = Concurrency(max_inputs, target_inputs)

    def wrap(obj: T) -> T:
        if is_registered(obj):
            raise InvalidError(
                "@berth.concurrent() must be applied below @app.function() / @app.cls(); "
                "put @app.function() on top"
            )
        if not (inspect.isfunction(obj) or isinstance(obj, type)):
            raise InvalidError(f"@berth.concurrent() goes on a function or a class, got {type(obj).__name__}")
        if concurrency(obj) is not None:
            raise InvalidError(f"{getattr(obj, '__qualname__', obj)} has @berth.concurrent() twice; keep one")
        setattr(obj, CONCURRENT_ATTR, config)
        return obj

    return wrap


def _hook(kind: str, args: tuple[object, ...]) -> Callable[[F], F]:
    check_no_positional(f"berth.{kind}", args, f"berth.{kind}()")

    def wrap(fn: F) -> F:
        if not inspect.isfunction(fn):
            raise InvalidError(
                f"@berth.{kind}() goes on a method of an @app.cls() class, got {type(fn).__name__}"
            )
        if getattr(fn, HOOK_ATTR, None) is not None or web_config(fn) is not None:
            raise InvalidError(
                f"@berth.{kind}() on {fn.__qualname__}: a lifecycle hook cannot also be a "
                "web endpoint or another hook"
            )
        setattr(fn, HOOK_ATTR, kind)
        return fn

    return wrap


def enter(*args: object, snap: bool = False) -> Callable[[F], F]:
    """Marks a method of an `@app.cls()` class to run when a container starts, before any request."""
    if snap:
        raise InvalidError(
            "enter(snap=True): memory snapshots are not supported by Berth; use @berth.enter()"
        )
    return _hook("enter", args)


def exit(*args: object) -> Callable[[F], F]:
    """Marks a method of an `@app.cls()` class to run when a container shuts down."""
    return _hook("exit", args)
