"""The calling methods shared by functions and class methods: `.remote`, `.remote_gen`, `.spawn`,
`.map`, `.starmap`, `.for_each`, each with an `.aio` flavour for async code.

The async flavours run the blocking call in a worker thread (asyncio.to_thread), so they never
stall the event loop; inside a container that is also what lets a call's frames flow, since the
runner's socket lives on that loop.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from . import _calls
from ._errors import InvalidError

if TYPE_CHECKING:
    from ._function_call import FunctionCall

_DONE = object()


class _Flavours:
    """A blocking call, with `.aio` for async code."""

    def __init__(self, run: Callable[..., Any], name: str) -> None:
        self._run = run
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(*args, **kwargs)

    async def aio(self, *args: Any, **kwargs: Any) -> Any:
        """The async flavour: awaits the same call without blocking the event loop."""
        return await asyncio.to_thread(self._run, *args, **kwargs)


class _GenFlavours(_Flavours):
    """A call yielding values, with `.aio` giving an async iterator."""

    async def aio(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:  # type: ignore[override]
        """The async flavour: `async for value in f.map.aio(...)`."""
        iterator: Iterator[Any] = await asyncio.to_thread(self._run, *args, **kwargs)
        try:
            while (value := await asyncio.to_thread(next, iterator, _DONE)) is not _DONE:
                yield value
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                await asyncio.to_thread(close)


def _inputs(
    iterables: tuple[Iterable[Any], ...], kwargs: dict[str, Any]
) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    for args in zip(*iterables, strict=False):
        yield tuple(args), kwargs


class Remote:
    """Mixin: calls of one remote function. Subclasses say where calls go (`_call_target`) and
    whether the function is a generator (`_generator`: None when not known here)."""

    _generator: bool | None = None

    def _call_target(self) -> _calls.Target:
        raise NotImplementedError

    def _label(self) -> str:
        return self._call_target().function

    def _check_plain(self, how: str) -> None:
        if self._generator:
            raise InvalidError(
                f"{self._label()} is a generator function: call it with .remote_gen(...), not .{how}(...)"
            )

    def _remote(self, *args: Any, **kwargs: Any) -> Any:
        self._check_plain("remote")
        return _calls.call(self._call_target(), args, kwargs)

    def _remote_gen(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        if self._generator is False:
            raise InvalidError(
                f"{self._label()} is not a generator function: "
                "call it with .remote(...), not .remote_gen(...)"
            )
        return _calls.call_gen(self._call_target(), args, kwargs)

    def _spawn(self, *args: Any, **kwargs: Any) -> FunctionCall:
        from ._function_call import FunctionCall

        self._check_plain("spawn")
        return FunctionCall(_calls.spawn(self._call_target(), args, kwargs))

    def _map(
        self,
        *iterables: Iterable[Any],
        kwargs: dict[str, Any] | None = None,
        order_outputs: bool = True,
        return_exceptions: bool = False,
    ) -> Iterator[Any]:
        self._check_plain("map")
        if not iterables:
            raise InvalidError(f"{self._label()}.map() needs at least one iterable of inputs")
        return self._fan_out(_inputs(iterables, dict(kwargs or {})), order_outputs, return_exceptions)

    def _starmap(
        self,
        input_iterator: Iterable[Iterable[Any]],
        *,
        kwargs: dict[str, Any] | None = None,
        order_outputs: bool = True,
        return_exceptions: bool = False,
    ) -> Iterator[Any]:
        self._check_plain("starmap")
        shared = dict(kwargs or {})
        inputs = ((tuple(args), shared) for args in input_iterator)
        return self._fan_out(inputs, order_outputs, return_exceptions)

    def _for_each(
        self, *iterables: Iterable[Any], kwargs: dict[str, Any] | None = None, ignore_exceptions: bool = False
    ) -> None:
        for _ in self._map(*iterables, kwargs=kwargs, return_exceptions=ignore_exceptions):
            pass

    def _fan_out(
        self,
        inputs: Iterable[tuple[tuple[Any, ...], dict[str, Any]]],
        order_outputs: bool,
        return_exceptions: bool,
    ) -> Iterator[Any]:
        target = self._call_target()  # resolved once, before any thread starts
        return _calls.map_calls(
            lambda args, kw: _calls.call(target, args, kw),
            inputs,
            order_outputs=order_outputs,
            return_exceptions=return_exceptions,
        )

    @property
    def remote(self) -> _Flavours:
        """Runs the function remotely and returns its result; its exception is re-raised here
        (the same type, with the remote traceback as a note; RemoteError if it cannot be
        re-created here). `await f.remote.aio(...)` from async code."""
        return _Flavours(self._remote, "remote")

    @property
    def remote_gen(self) -> _GenFlavours:
        """Runs a generator function remotely; iterates over what it yields as it yields it.
        `async for x in f.remote_gen.aio(...)` from async code."""
        return _GenFlavours(self._remote_gen, "remote_gen")

    @property
    def spawn(self) -> _Flavours:
        """Starts the function in the background; returns a `FunctionCall` whose `.get()` waits
        for the result."""
        return _Flavours(self._spawn, "spawn")

    @property
    def map(self) -> _GenFlavours:
        """`f.map(xs, ys, kwargs={}, order_outputs=True, return_exceptions=False)`: calls
        f(x, y) for each pair in parallel (at most 64 calls in flight) and yields the results, in
        input order unless `order_outputs=False`. An exception stops the iteration unless
        `return_exceptions=True`, which yields it in the result's place."""
        return _GenFlavours(self._map, "map")

    @property
    def starmap(self) -> _GenFlavours:
        """Like `map`, each input being a tuple of positional arguments: f.starmap([(1, 2), (3, 4)])."""
        return _GenFlavours(self._starmap, "starmap")

    @property
    def for_each(self) -> _Flavours:
        """Like `map`, discarding the results; returns when every call is done."""
        return _Flavours(self._for_each, "for_each")


def is_generator(fn: Callable[..., Any]) -> bool:
    """Whether calling `fn` makes a (sync or async) generator."""
    return inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)
