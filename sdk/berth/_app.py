"""The App: a named group of functions and classes deployed together."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ._cls import Cls
from ._compat import HostedNames
from ._errors import InvalidError
from ._function import Function, make_options
from ._image import Image
from ._partial import is_registered
from ._secret import Secret, check_secrets

F = TypeVar("F", bound=Callable[..., Any])


class App(metaclass=HostedNames):
    """A group of functions and classes deployed together under one name.

    `image` and `secrets` are defaults for every function of the app. The name may be left out;
    `berth deploy` then uses `--name` or the file's name::

        app = berth.App("demo", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))
    """

    def __init__(
        self, name: str | None = None, *, image: Image | None = None, secrets: Sequence[Secret] = ()
    ):
        if name is not None and (not isinstance(name, str) or not name):
            raise InvalidError(f"App(name={name!r}): the name must be a non-empty string or None")
        if image is not None and not isinstance(image, Image):
            raise InvalidError("App(image=...) needs a berth.Image, e.g. berth.Image.debian_slim()")
        self.name = name
        self.image = image
        self.secrets = check_secrets(secrets, "App()")
        self._objects: dict[str, Function | Cls] = {}

    @property
    def registered_functions(self) -> dict[str, Function]:
        """Functions registered with `@app.function()`, by name, in definition order."""
        return {k: v for k, v in self._objects.items() if isinstance(v, Function)}

    @property
    def registered_classes(self) -> dict[str, Cls]:
        """Classes registered with `@app.cls()`, by name, in definition order."""
        return {k: v for k, v in self._objects.items() if isinstance(v, Cls)}

    def _register(self, name: str, obj: Function | Cls) -> None:
        if name in self._objects:
            raise InvalidError(
                f"App {self.name or ''} already has a function or class named {name!r}; rename one"
            )
        self._objects[name] = obj

    def function(
        self,
        *args: object,
        image: Image | None = None,
        secrets: Sequence[Secret] = (),
        env: Mapping[str, str] | None = None,
        cpu: float | None = None,
        memory: int | None = None,
        timeout: float = 300,
        startup_timeout: float | None = None,
        min_containers: int = 0,
        max_containers: int | None = None,
        buffer_containers: int = 0,
        scaledown_window: float = 60,
        serialized: bool = False,
        retries: object = None,
        gpu: object = None,
        **unexpected: Any,
    ) -> Callable[[Callable[..., Any]], Function]:
        """Registers a function with the app; put it on top of the web decorator.

        Options: `image`, `secrets`, `env`, `cpu`, `memory` (MiB), `timeout` (s per request),
        `startup_timeout`, `min_containers`, `max_containers`, `buffer_containers`,
        `scaledown_window` (s idle before a container stops).
        """
        _check_bare("app.function", args)
        options = make_options(
            "App.function",
            image=image,
            secrets=secrets,
            env=env,
            cpu=cpu,
            memory=memory,
            timeout=timeout,
            startup_timeout=startup_timeout,
            min_containers=min_containers,
            max_containers=max_containers,
            buffer_containers=buffer_containers,
            scaledown_window=scaledown_window,
            serialized=serialized,
            retries=retries,
            gpu=gpu,
            unexpected=unexpected,
        )

        def wrap(fn: Callable[..., Any]) -> Function:
            if is_registered(fn):
                raise InvalidError(f"{fn!r} is already registered; use @app.function() once")
            if isinstance(fn, type):
                raise InvalidError(
                    f"@app.function() goes on functions; use @app.cls() for the class {fn.__name__}"
                )
            if not inspect.isfunction(fn):
                raise InvalidError(f"@app.function() goes on a function, got {type(fn).__name__}")
            function = Function(self, fn, options)
            self._register(function.name, function)
            return function

        return wrap

    def cls(
        self,
        *args: object,
        image: Image | None = None,
        secrets: Sequence[Secret] = (),
        env: Mapping[str, str] | None = None,
        cpu: float | None = None,
        memory: int | None = None,
        timeout: float = 300,
        startup_timeout: float | None = None,
        min_containers: int = 0,
        max_containers: int | None = None,
        buffer_containers: int = 0,
        scaledown_window: float = 60,
        serialized: bool = False,
        retries: object = None,
        gpu: object = None,
        **unexpected: Any,
    ) -> Callable[[type], Cls]:
        """Registers a class with the app; its web-decorated methods become endpoints.

        Takes the same options as `App.function()`. Parameters (`berth.parameter()`) give one
        pool of containers per combination of values; `@berth.enter()` / `@berth.exit()` methods
        run at container start and shutdown.
        """
        _check_bare("app.cls", args)
        options = make_options(
            "App.cls",
            image=image,
            secrets=secrets,
            env=env,
            cpu=cpu,
            memory=memory,
            timeout=timeout,
            startup_timeout=startup_timeout,
            min_containers=min_containers,
            max_containers=max_containers,
            buffer_containers=buffer_containers,
            scaledown_window=scaledown_window,
            serialized=serialized,
            retries=retries,
            gpu=gpu,
            unexpected=unexpected,
        )

        def wrap(user_cls: type) -> Cls:
            if is_registered(user_cls):
                raise InvalidError(f"{user_cls!r} is already registered; use @app.cls() once")
            if not isinstance(user_cls, type):
                raise InvalidError(f"@app.cls() goes on a class; use @app.function() for {user_cls!r}")
            registered = Cls(self, user_cls, options)
            self._register(registered.name, registered)
            return registered

        return wrap

    def __repr__(self) -> str:
        return f"<berth.App {self.name!r}>"


def _check_bare(decorator: str, args: tuple[object, ...]) -> None:
    if not args:
        return
    if len(args) == 1 and callable(args[0]):
        raise InvalidError(f"Did you forget parentheses? Use @{decorator}()")
    raise InvalidError(f"{decorator}() takes keyword arguments only, e.g. @{decorator}(image=image)")
