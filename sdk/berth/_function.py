"""Functions registered on an App with `@app.function()`, and the options both it and `@app.cls()` take."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._compat import HostedNames
from ._errors import InvalidError
from ._image import Image
from ._partial import concurrency, web_config
from ._secret import Secret, check_secrets

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


@dataclass(frozen=True)
class Options:
    """Validated keyword arguments of `@app.function()` / `@app.cls()`."""

    image: Image | None = None
    secrets: tuple[Secret, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    cpu: float | None = None
    memory: int | None = None
    timeout: float = 300.0
    startup_timeout: float | None = None
    min_containers: int = 0
    max_containers: int | None = None
    buffer_containers: int = 0
    scaledown_window: float = 60.0


def _count(where: str, name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidError(f"{where}({name}={value!r}): must be an int >= {minimum}")


def _seconds(where: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise InvalidError(f"{where}({name}={value!r}): must be a positive number of seconds")
    return float(value)


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
    min_containers: int,
    max_containers: int | None,
    buffer_containers: int,
    scaledown_window: float,
    serialized: bool,
    retries: object,
    gpu: object,
    unexpected: Mapping[str, Any],
) -> Options:
    """Checks every option and says how to fix a wrong one."""
    if unexpected:
        name = sorted(unexpected)[0]
        raise InvalidError(
            f"{where}() got an unexpected argument {name!r}; valid arguments: {', '.join(OPTION_NAMES)}"
        )
    if gpu is not None:
        raise InvalidError(f"{where}(gpu=...): GPUs are not supported by Berth; remove the gpu argument")
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
    _count(where, "min_containers", min_containers, minimum=0)
    _count(where, "buffer_containers", buffer_containers, minimum=0)
    if max_containers is not None:
        _count(where, "max_containers", max_containers, minimum=1)
        if max_containers < min_containers:
            raise InvalidError(
                f"{where}(): max_containers={max_containers} is below min_containers={min_containers}"
            )
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
        min_containers=min_containers,
        max_containers=max_containers,
        buffer_containers=buffer_containers,
        scaledown_window=_seconds(where, "scaledown_window", scaledown_window),
    )


class Function(metaclass=HostedNames):
    """A function registered with `@app.function()`; calling it runs the original function locally."""

    _berth_registered = True

    def __init__(self, app: App, raw_f: Callable[..., Any], options: Options) -> None:
        self.app = app
        self.raw_f = raw_f
        self.options = options
        self.name: str = raw_f.__name__
        self.web = web_config(raw_f)
        self.concurrency = concurrency(raw_f)
        self.__doc__ = raw_f.__doc__
        self.__name__ = raw_f.__name__
        self.__qualname__ = raw_f.__qualname__
        self.__module__ = raw_f.__module__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.raw_f(*args, **kwargs)

    def local(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the original function in this process."""
        return self.raw_f(*args, **kwargs)

    def get_raw_f(self) -> Callable[..., Any]:
        """The undecorated function."""
        return self.raw_f

    def __repr__(self) -> str:
        return f"<berth.Function {self.name}>"
