"""The serving side of function calls (`f.remote`, `.remote_gen`, `.spawn`): a stream whose head
carries a CallHead runs the function itself rather than the app's web handler.

It is an ASGI app, so the runner's Server drives it like any request (flow control, cancel,
drain): the request body is the length-prefixed CallInput (cloudpickle of (args, kwargs)), the
response (status 200) a sequence of length-prefixed CallOutputs: one `value` or `error` for a plain
call, each yielded `value` then `end` for a generator. Sync functions run in a thread, async ones
on the loop; a sync generator is advanced in a thread one item at a time. Asking `generator` of a
function that is not one (or the reverse) is a CallError saying which to use. An exception the
function raises becomes a CallError carrying its type, message, traceback text and, when it
pickles, the exception itself. The function's timeout is the edge's (a 504, as for web requests).
"""

from __future__ import annotations

import asyncio
import inspect
import sysconfig
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

from berth._wire import codec
from berth._wire.frames import MAX_FRAME
from berth.v1 import stream_pb2

from .types import ASGIApp, Message, Scope

CONTENT_TYPE = b"application/x-berth-call-outputs"
_HEADERS = [(b"content-type", CONTENT_TYPE)]
# What the runner holds of one call's input: the frame limit of the socket it came through.
MAX_INPUT = MAX_FRAME
NOT_WEB = "function {name!r} has no web endpoint; call it with .remote() (Function.from_name)"
_DONE = object()


class CallFailed(Exception):
    """A call the runner refuses before running the function; becomes a CallError."""


def _cloudpickle() -> Any:
    import cloudpickle  # in every container's runtime layer; imported at the first call only

    return cloudpickle


def error_output(exc: BaseException, *, tb: str | None = None) -> stream_pb2.CallOutput:
    """The CallError for `exc`: always its type, message and traceback text; the exception pickled
    when cloudpickle can (some hold sockets or locks), else empty."""
    text = tb if tb is not None else "".join(traceback.format_exception(exc))
    try:
        pickled = _cloudpickle().dumps(exc)
    except Exception:  # noqa: BLE001 - anything may fail to pickle; the text still says what happened
        pickled = b""
    return stream_pb2.CallOutput(
        error=stream_pb2.CallError(
            type=type(exc).__name__, message=str(exc), traceback=text, exception=pickled
        )
    )


def _value(value: Any) -> stream_pb2.CallOutput:
    return stream_pb2.CallOutput(value=_cloudpickle().dumps(value))


async def _read_input(receive: Callable[[], Awaitable[Message]]) -> stream_pb2.CallInput | None:
    """The whole CallInput, or None if the caller went away first."""
    decoder = codec.Decoder(stream_pb2.CallInput.FromString, MAX_INPUT)
    parts: list[stream_pb2.CallInput] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.extend(decoder.feed(message.get("body", b"")))
        if not message.get("more_body", False):
            break
    if len(parts) != 1 or decoder.pending:
        raise CallFailed(
            f"the call's input is malformed ({len(parts)} CallInput messages, {decoder.pending} bytes over)"
        )
    return parts[0]


def _is_generator(fn: Any) -> bool:
    return inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn)


class CallApp:
    """Runs calls of `fn` (a function, or a bound method of the container's class instance)."""

    def __init__(self, fn: Any, name: str) -> None:
        self.fn = fn
        self.name = name

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        writer = _Outputs(send)
        try:
            head = scope.get("berth.call")
            generator = bool(head.generator) if head is not None else False
            call_input = await _read_input(receive)
            if call_input is None:
                return  # cancelled before it ran: nobody to answer
            self._check(generator)
            args, kwargs = _cloudpickle().loads(call_input.args) if call_input.args else ((), {})
            if generator:
                await self._iterate(args, kwargs, writer)
            else:
                await writer.put(_value(await self._run(args, kwargs)), end=True)
        except (asyncio.CancelledError, OSError):
            raise  # the caller went away (send raises OSError): nothing more goes out
        except CallFailed as exc:
            await writer.put(error_output(exc, tb=f"berth: {exc}\n"), end=True)
        except Exception as exc:  # noqa: BLE001 - the function's exception is the caller's to see
            # The runner's own frames (this module, asyncio) are noise: keep the function's.
            tb = "".join(traceback.format_exception(type(exc), exc, _user_frames(exc.__traceback__)))
            await writer.put(error_output(exc, tb=tb), end=True)

    def _check(self, generator: bool) -> None:
        is_gen = _is_generator(self.fn)
        if generator and not is_gen:
            raise CallFailed(
                f"{self.name} is not a generator function: call it with .remote(), not .remote_gen()"
            )
        if not generator and is_gen:
            raise CallFailed(
                f"{self.name} is a generator function: call it with .remote_gen(), not .remote()"
            )

    async def _run(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if inspect.iscoroutinefunction(self.fn):
            return await self.fn(*args, **kwargs)
        result = await asyncio.to_thread(self.fn, *args, **kwargs)
        if inspect.isawaitable(result):  # e.g. a sync wrapper returning a coroutine
            result = await result
        return result

    async def _iterate(self, args: tuple[Any, ...], kwargs: dict[str, Any], writer: _Outputs) -> None:
        if inspect.isasyncgenfunction(self.fn):
            async for item in self.fn(*args, **kwargs):
                await writer.put(_value(item), end=False)
        else:
            iterator = await asyncio.to_thread(self.fn, *args, **kwargs)
            while (item := await asyncio.to_thread(next, iterator, _DONE)) is not _DONE:
                await writer.put(_value(item), end=False)
        await writer.put(stream_pb2.CallOutput(end=True), end=True)


class _Outputs:
    """Writes CallOutputs as the response body; the head goes with the first."""

    def __init__(self, send: Any) -> None:
        self._send = send
        self._started = False
        self.ended = False

    async def put(self, output: stream_pb2.CallOutput, *, end: bool) -> None:
        if self.ended:
            return
        if not self._started:
            self._started = True
            await self._send({"type": "http.response.start", "status": 200, "headers": _HEADERS})
        self.ended = end
        await self._send({"type": "http.response.body", "body": codec.encode(output), "more_body": not end})


def _user_frames(tb: Any) -> Any:
    """The traceback from the first frame that is neither this module's nor the standard
    library's (asyncio's threads): the function's own frames, which are what the caller reads."""
    stdlib = sysconfig.get_paths()["stdlib"]
    first = tb
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename != __file__ and not filename.startswith(stdlib):
            return tb
        tb = tb.tb_next
    return first


def refusing(name: str) -> ASGIApp:
    """The call app of a function that builds a web app or starts a server: calling it would
    only build another, so every call gets a CallError saying so."""

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        problem = CallFailed(
            f"{name} serves a web app (asgi_app, wsgi_app or web_server): request its URL instead "
            "of calling it"
        )
        await _Outputs(send).put(error_output(problem, tb=f"berth: {problem}\n"), end=True)

    return app


def not_web(name: str) -> ASGIApp:
    """The web app of a function without a web decorator: every web request is told how to call it."""
    body = (NOT_WEB.format(name=name) + "\n").encode()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return  # nothing to start: served without lifespan (lifespan.py, as uvicorn's "auto")
        if scope["type"] != "http":
            await send({"type": "websocket.close", "code": 1000})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app
