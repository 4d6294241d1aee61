"""The App: a named group of functions and classes deployed together."""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from ._cls import Cls
from ._compat import HostedNames, RenamedWarning
from ._entrypoint import LocalEntrypoint
from ._errors import InvalidError
from ._function import Function, make_options
from ._image import Image
from ._partial import is_registered
from ._secret import Secret, check_secrets
from ._spec_rules import DEFAULT_TIMEOUT

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
        self._entrypoints: dict[str, LocalEntrypoint] = {}
        # (name, dev) of the copy `berth run` deployed, which this process's calls then reach.
        self._run_copy: tuple[str, bool] | None = None

    @property
    def registered_functions(self) -> dict[str, Function]:
        """Functions registered with `@app.function()`, by name, in definition order."""
        return {k: v for k, v in self._objects.items() if isinstance(v, Function)}

    @property
    def registered_classes(self) -> dict[str, Cls]:
        """Classes registered with `@app.cls()`, by name, in definition order."""
        return {k: v for k, v in self._objects.items() if isinstance(v, Cls)}

    @property
    def registered_entrypoints(self) -> dict[str, LocalEntrypoint]:
        """Functions marked with `@app.local_entrypoint()`, by name, in definition order."""
        return dict(self._entrypoints)

    def local_entrypoint(self, *args: object) -> Callable[[Callable[..., Any]], LocalEntrypoint]:
        """Marks a function that `berth run app.py` runs in the local process, after deploying
        an ephemeral copy of the app that the function's `.remote` calls reach (the copy stops
        when it returns). Its parameters come from the command line: `berth run app.py --x 1`::

            @app.local_entrypoint()
            def main(x: int = 1):
                print(square.remote(x))
        """
        _check_bare("app.local_entrypoint", args)

        def wrap(fn: Callable[..., Any]) -> LocalEntrypoint:
            if not inspect.isfunction(fn):
                raise InvalidError(f"@app.local_entrypoint() goes on a function, got {type(fn).__name__}")
            if fn.__name__ in self._entrypoints or fn.__name__ in self._objects:
                raise InvalidError(
                    f"App {self.name or ''} already has a function or entrypoint named {fn.__name__!r}"
                )
            entrypoint = LocalEntrypoint(self, fn)
            self._entrypoints[entrypoint.name] = entrypoint
            return entrypoint

        return wrap

    def call_copy(self) -> tuple[str, bool]:
        """(app name, dev) of the copy this process's `.remote` calls of the app's functions
        reach: the container's own copy inside one of the app's containers, the ephemeral copy
        under `berth run`, else the deployed app of this name."""
        from ._runtime import call_client

        client = call_client.current()
        # The container's app key holds the name as the platform normalized it (lowercase,
        # dashes): an App named otherwise is another app, called on its deployed copy.
        if client is not None and (not self.name or _normalized(self.name) == client.app):
            return client.app, client.dev
        if self._run_copy is not None:
            return self._run_copy
        if not self.name:
            raise InvalidError(
                "this App has no name, so there is no deployed copy to call: give it one "
                "(berth.App('my-app')) and `berth deploy` it, run it with `berth run FILE`, or use "
                "berth.Function.from_name('app', 'function')"
            )
        return self.name, False

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
        timeout: float = DEFAULT_TIMEOUT,
        startup_timeout: float | None = None,
        min_containers: int | None = None,
        max_containers: int | None = None,
        buffer_containers: int = 0,
        scaledown_window: float | None = None,
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
            options.apply("function", fn)
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
        timeout: float = DEFAULT_TIMEOUT,
        startup_timeout: float | None = None,
        min_containers: int | None = None,
        max_containers: int | None = None,
        buffer_containers: int = 0,
        scaledown_window: float | None = None,
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
            options.apply("class", user_cls)
            registered = Cls(self, user_cls, options)
            self._register(registered.name, registered)
            return registered

        return wrap

    def __repr__(self) -> str:
        return f"<berth.App {self.name!r}>"


class Stub(App):
    """Former name of `App`, kept working: constructing one warns."""

    def __init__(
        self, name: str | None = None, *, image: Image | None = None, secrets: Sequence[Secret] = ()
    ):
        warnings.warn("berth.Stub is deprecated, use berth.App instead", RenamedWarning, stacklevel=2)
        super().__init__(name, image=image, secrets=secrets)


def _normalized(name: str) -> str:
    return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9]", "-", name.lower())).strip("-")


def _check_bare(decorator: str, args: tuple[object, ...]) -> None:
    if not args:
        return
    if len(args) == 1 and callable(args[0]):
        raise InvalidError(f"Did you forget parentheses? Use @{decorator}()")
    raise InvalidError(f"{decorator}() takes keyword arguments only, e.g. @{decorator}(image=image)")
