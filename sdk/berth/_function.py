"""Functions registered on an App with `@app.function()`, and the options both it and `@app.cls()` take."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _calls
from ._compat import HostedNames, RenamedWarning
from ._errors import InvalidError
from ._image import Image
from ._partial import concurrency, concurrent, web_config
from ._remote import Remote, is_generator
from ._secret import Secret, check_secrets
from ._spec_rules import DEFAULT_SCALEDOWN_WINDOW, DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from ._app import App

OPTION_NAMES = (
    "image",
    "secrets",
    "env",
    "cpu",
    "memory",
    "timeout",
    "startup_timeout",
    "min_containers",
    "max_containers",
    "buffer_containers",
    "scaledown_window",
)

# Former names the hosted service still accepts with a warning: old name -> current name.
RENAMED_OPTIONS = {
    "concurrency_limit": "max_containers",
    "keep_warm": "min_containers",
    "container_idle_timeout": "scaledown_window",
}
# Accepted so apps written for several regions deploy, and named in `berth deploy`'s output:
# a Berth platform has one region and no cloud to pick.
PLACEMENT_OPTIONS = ("region", "cloud")


@dataclass(frozen=True)
class Options:
    """Validated keyword arguments of `@app.function()` / `@app.cls()`."""

    image: Image | None = None
    secrets: tuple[Secret, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cpu: float | None = None
    memory: int | None = None
    timeout: float = DEFAULT_TIMEOUT
    startup_timeout: float | None = None
    min_containers: int = 0
    max_containers: int | None = None
    buffer_containers: int = 0
    scaledown_window: float = DEFAULT_SCALEDOWN_WINDOW
    # allow_concurrent_inputs=N, applied as @berth.concurrent(max_inputs=N) by `apply`.
    concurrent_inputs: int | None = None
    # What gpu= asked for; `apply` refuses it naming the function, which is not known here yet.
    gpu: str | None = None
    # region=/cloud= as given (e.g. "region='us-east'"): ignored, and said so at deploy.
    ignored: tuple[str, ...] = ()

    def apply(self, kind: str, target: Any) -> None:
        """What needs the decorated function or class (`kind` is "function" or "class"): refuses
        gpu= naming it, and gives it allow_concurrent_inputs as `@berth.concurrent` would."""
        name = getattr(target, "__name__", repr(target))
        if self.gpu is not None:
            decorator = "@app.function()" if kind == "function" else "@app.cls()"
            raise InvalidError(
                f"{kind} {name!r}: gpu={self.gpu} is not supported, Berth schedules no GPUs. Remove "
                f"gpu= from its {decorator}; the rest of the app deploys only once it is removed"
            )
        if self.concurrent_inputs is not None:
            if concurrency(target) is not None:
                raise InvalidError(
                    f"{kind} {name!r} sets allow_concurrent_inputs= and @berth.concurrent(); they say "
                    "the same thing: keep @berth.concurrent(max_inputs=...) only"
                )
            concurrent(max_inputs=self.concurrent_inputs)(target)


def _count(where: str, name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidError(f"{where}({name}={value!r}): must be an int >= {minimum}")
    return value


def _seconds(where: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidError(f"{where}({name}={value!r}): must be a positive number of seconds")
    return float(value)


def _deprecated(where: str, old: str, new: str, *, depth: int) -> None:
    # Points at the user's decorator line: `depth` frames of make_options' own, then App.function.
    message = f"{where}({old}=...) is deprecated, use {new} instead"
    warnings.warn(message, RenamedWarning, stacklevel=depth + 2)


def _renamed(where: str, unexpected: dict[str, Any], given: dict[str, object]) -> dict[str, object]:
    """The current names' values with the former names' moved over (a DeprecationWarning each);
    both names of one option given: refused."""
    values = dict(given)
    for old, new in RENAMED_OPTIONS.items():
        if old not in unexpected:
            continue
        value = unexpected.pop(old)
        if given[new] is not None:
            raise InvalidError(
                f"{where}() got both {old}= and {new}=; {old} is the deprecated name of {new}: keep {new}"
            )
        _deprecated(where, old, f"{new}=", depth=3)  # _deprecated, _renamed, make_options
        values[new] = value
    return values


def _placement(where: str, unexpected: dict[str, Any]) -> tuple[str, ...]:
    ignored = []
    for name in PLACEMENT_OPTIONS:
        value = unexpected.pop(name, None)
        if value is None:
            continue
        texts = [value] if isinstance(value, str) else value
        if not isinstance(texts, list | tuple) or not texts or not all(isinstance(t, str) for t in texts):
            raise InvalidError(f"{where}({name}={value!r}) takes a name or a list of names, e.g. 'us-east'")
        ignored.append(f"{name}={value!r}")
    return tuple(ignored)


def make_options(
    where: str,
    *,
    image: Image | None,
    secrets: Sequence[Secret],
    env: Mapping[str, str] | None,
    cpu: float | None,
    memory: int | None,
    timeout: float,
    startup_timeout: float | None,
    min_containers: int | None,
    max_containers: int | None,
    buffer_containers: int,
    scaledown_window: float | None,
    serialized: bool,
    retries: object,
    gpu: object,
    unexpected: Mapping[str, Any],
) -> Options:
    """Checks every option and says how to fix a wrong one. Former names of options
    (`keep_warm`, ...) work with a DeprecationWarning; `region`/`cloud` are kept to be reported."""
    extra = dict(unexpected)
    scaling = _renamed(
        where,
        extra,
        {
            "min_containers": min_containers,
            "max_containers": max_containers,
            "scaledown_window": scaledown_window,
        },
    )
    concurrent_inputs = extra.pop("allow_concurrent_inputs", None)
    if concurrent_inputs is not None:
        _count(where, "allow_concurrent_inputs", concurrent_inputs, minimum=1)
        _deprecated(
            where,
            "allow_concurrent_inputs",
            f"@berth.concurrent(max_inputs={concurrent_inputs})",
            depth=2,  # _deprecated, make_options
        )
    ignored = _placement(where, extra)
    if extra:
        name = sorted(extra)[0]
        raise InvalidError(
            f"{where}() got an unexpected argument {name!r}; valid arguments: {', '.join(OPTION_NAMES)}"
        )
    if serialized:
        raise InvalidError(f"{where}(serialized=True) is not supported: define the function at module level")
    if retries not in (None, 0):
        raise InvalidError(
            f"{where}(retries=...): retries do not apply to web endpoints; remove the argument"
        )
    if image is not None and not isinstance(image, Image):
        raise InvalidError(f"{where}(image=...) needs a berth.Image, e.g. berth.Image.debian_slim()")
    env_items: tuple[tuple[str, str], ...] = ()
    if env is not None:
        if not isinstance(env, Mapping):
            raise InvalidError(f"{where}(env=...) takes a dict of str to str")
        for key, value in env.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidError(f"{where}(env=...) needs str keys and values, got {key!r}: {value!r}")
        env_items = tuple(sorted(env.items()))
    if cpu is not None and (isinstance(cpu, bool) or not isinstance(cpu, int | float) or cpu <= 0):
        raise InvalidError(f"{where}(cpu={cpu!r}): must be a positive number of cores, e.g. 0.5")
    if memory is not None:
        _count(where, "memory", memory, minimum=1)
    given_min = scaling["min_containers"]
    min_count = _count(where, "min_containers", 0 if given_min is None else given_min, minimum=0)
    _count(where, "buffer_containers", buffer_containers, minimum=0)
    max_count = scaling["max_containers"]
    if max_count is not None:
        max_count = _count(where, "max_containers", max_count, minimum=1)
        if max_count < min_count:
            raise InvalidError(f"{where}(): max_containers={max_count} is below min_containers={min_count}")
    window = scaling["scaledown_window"]
    return Options(
        image=image,
        secrets=check_secrets(secrets, f"{where}()"),
        env=env_items,
        cpu=float(cpu) if cpu is not None else None,
        memory=memory,
        timeout=_seconds(where, "timeout", timeout),
        startup_timeout=_seconds(where, "startup_timeout", startup_timeout)
        if startup_timeout is not None
        else None,
        min_containers=min_count,
        max_containers=max_count,
        buffer_containers=buffer_containers,
        scaledown_window=DEFAULT_SCALEDOWN_WINDOW
        if window is None
        else _seconds(where, "scaledown_window", window),
        concurrent_inputs=concurrent_inputs,
        gpu=None if gpu is None else repr(gpu),
        ignored=ignored,
    )


class Function(Remote, metaclass=HostedNames):
    """A function registered with `@app.function()`; calling it runs the original function locally.

    `.remote(...)` runs it on the platform (`.remote_gen`, `.spawn`, `.map`, `.starmap`,
    `.for_each`: berth._remote). Which copy of the app a call reaches: inside the app's own
    container, the copy (deployed or `berth serve`/`berth run`) that container belongs to; under
    `berth run`, the ephemeral copy it deployed; elsewhere the deployed app named `App(name)`.
    `Function.from_name(app, name)` reaches a function of any deployed app.
    """

    _berth_registered = True
    _looked_up: Any = None  # set by from_name: a berth._lookup.LookedUp

    def __init__(self, app: App, raw_f: Callable[..., Any], options: Options) -> None:
        self.app = app
        self.raw_f = raw_f
        self._generator = is_generator(raw_f)
        self.options = options
        self.name: str = raw_f.__name__
        self.web = web_config(raw_f)
        self.concurrency = concurrency(raw_f)
        self.__doc__ = raw_f.__doc__
        self.__name__ = raw_f.__name__
        self.__qualname__ = raw_f.__qualname__
        self.__module__ = raw_f.__module__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.get_raw_f()(*args, **kwargs)

    def local(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the original function in this process."""
        return self.get_raw_f()(*args, **kwargs)

    def get_raw_f(self) -> Callable[..., Any]:
        """The undecorated function."""
        if self._looked_up is not None:
            raise InvalidError(
                f"{self.name} was looked up with Function.from_name: its code is not in this process, "
                "so it runs only remotely (.remote(...))"
            )
        return self.raw_f

    def _call_target(self) -> Any:
        if self._looked_up is not None:
            return self._looked_up.target()
        app_name, dev = self.app.call_copy()
        return _calls.Target(app_name, self.name, dev)

    @classmethod
    def from_name(cls, app_name: str, name: str) -> Function:
        """The function `name` of the deployed app `app_name`, to call with `.remote(...)` and
        friends. The lookup happens at the first call (NotFoundError then if there is no such
        app or function); outside a container it asks the deploy API, so a function only served
        (`berth serve`, `berth run`) is found too."""
        from ._lookup import LookedUp

        for what, value in (("app name", app_name), ("function name", name)):
            if not isinstance(value, str) or not value:
                raise InvalidError(
                    f"Function.from_name: the {what} must be a non-empty string, got {value!r}"
                )
        handle = cls.__new__(cls)
        handle._looked_up = LookedUp(app_name, name)
        handle.app = None  # type: ignore[assignment]
        handle.name = name
        handle.__name__ = name
        handle.__qualname__ = name
        handle._generator = None
        return handle

    def __repr__(self) -> str:
        return f"<berth.Function {self.name}>"
