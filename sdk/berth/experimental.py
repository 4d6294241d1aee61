"""`berth.experimental`: the hosted service's experimental names that Berth can honour.

`http_server` maps onto `@berth.web_server`: both expose a server listening on a port inside the
container. Any other name here raises NotSupportedError saying so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import InvalidError
from ._partial import HOOK_ATTR, WEB_ATTR, is_registered, web_server
from .exception import NotSupportedError

__all__ = ["http_server"]

C = TypeVar("C", bound=type)

# The method http_server adds to the class: what the runner calls, once the class's @enter hooks
# have started the server, before it waits for the port. Its name is in the function's URL.
SERVER_METHOD = "http_server"


def http_server(
    *args: object,
    port: int | None = None,
    proxy_regions: Sequence[str] | None = None,
    startup_timeout: float = 30.0,
    exit_grace_period: float | None = None,
    h2_enabled: bool = False,
    **unexpected: Any,
) -> Callable[[C], C]:
    """Serves the HTTP server that a class's `@berth.enter()` method starts, listening on `port`
    on 0.0.0.0; put it below `@app.cls()`::

        @app.cls()
        @berth.experimental.http_server(port=8000)
        class Server:
            @berth.enter()
            def start(self):
                subprocess.Popen(["python", "-m", "http.server", "8000"])

    The same as a `@berth.web_server(port)` method of the class: requests are proxied once the port
    accepts connections, waiting at most `startup_timeout` seconds after the @enter hooks ran.
    `proxy_regions` is accepted and ignored (a Berth platform has one region; `berth deploy` says
    so); `exit_grace_period` and `h2_enabled` are refused.
    """
    if args:
        raise InvalidError(
            "experimental.http_server() takes keyword arguments only, e.g. "
            "@berth.experimental.http_server(port=8000)"
        )
    if unexpected:
        name = sorted(unexpected)[0]
        raise NotSupportedError(
            f"experimental.http_server({name}=...)",
            "remove it; Berth takes port, proxy_regions and startup_timeout",
        )
    if exit_grace_period is not None:
        raise NotSupportedError(
            "experimental.http_server(exit_grace_period=...)",
            "every Berth container gets the platform's shutdown grace; remove the argument",
        )
    if h2_enabled:
        raise NotSupportedError(
            "experimental.http_server(h2_enabled=True)",
            "the edge speaks HTTP/1.1 to containers; remove the argument",
        )
    if port is None:
        raise InvalidError("experimental.http_server() needs the server's port, e.g. port=8000")
    ignored: tuple[str, ...] = ()
    if proxy_regions is not None:
        if isinstance(proxy_regions, str) or not all(isinstance(r, str) for r in proxy_regions):
            raise InvalidError(
                f"experimental.http_server(proxy_regions={proxy_regions!r}) takes a list of region names"
            )
        ignored = (f"proxy_regions={list(proxy_regions)!r}",)
    as_web_server = web_server(port, startup_timeout=startup_timeout)

    def wrap(user_cls: C) -> C:
        if is_registered(user_cls):
            raise InvalidError(
                "@berth.experimental.http_server() must be applied below @app.cls(); put @app.cls() on top"
            )
        if not isinstance(user_cls, type):
            raise InvalidError(
                "@berth.experimental.http_server() goes on a class whose @berth.enter() method starts "
                f"the server, got {type(user_cls).__name__}"
            )
        if SERVER_METHOD in vars(user_cls):
            raise InvalidError(
                f"{user_cls.__qualname__} already has an attribute {SERVER_METHOD!r}, which "
                "@berth.experimental.http_server() adds; rename yours"
            )
        if not any(getattr(v, HOOK_ATTR, None) == "enter" for v in vars(user_cls).values()):
            raise InvalidError(
                f"@berth.experimental.http_server() on {user_cls.__qualname__}: the class needs a "
                "@berth.enter() method that starts the server"
            )

        def serve(self: Any) -> None:
            """The server runs already: the class's @berth.enter() methods started it."""

        serve.__name__ = SERVER_METHOD
        serve.__qualname__ = f"{user_cls.__qualname__}.{SERVER_METHOD}"
        serve.__module__ = user_cls.__module__
        as_web_server(serve)
        config = getattr(serve, WEB_ATTR)
        setattr(serve, WEB_ATTR, dataclasses.replace(config, ignored=ignored))
        setattr(user_cls, SERVER_METHOD, serve)
        return user_cls

    return wrap


if not TYPE_CHECKING:  # at run time only, so mypy still flags a mistyped name

    def __getattr__(name: str) -> object:
        """Other experimental names of the hosted service: NotSupportedError, saying what to do."""
        from ._compat import lookup

        if name.startswith("_"):
            raise AttributeError(f"module 'berth.experimental' has no attribute {name!r}")
        raise lookup("berth.experimental", name) or NotSupportedError(
            f"berth.experimental.{name}",
            "Berth implements only berth.experimental.http_server (as @berth.web_server) here",
        )
