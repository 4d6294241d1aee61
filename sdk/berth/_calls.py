"""Function calls from the caller's side: the request body, decoding the answer, and the calls
themselves (`.remote`, `.remote_gen`, `.spawn`, `.map`, `FunctionCall.get`).

A call is `POST /__berth/call` with a length-prefixed CallHead and CallInput as its body; the
answer is a sequence of length-prefixed CallOutputs (protos/berth/v1/stream.proto). It goes over
HTTP to the edge with the API token (berth._call_http), or, inside a container, through the
runner's socket to its agent (berth._runtime.call_client); `transport()` picks.
"""

from __future__ import annotations

import builtins
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Protocol

from ._errors import AuthError, Error, InvalidError, NotFoundError
from ._wire import codec
from .exception import (
    CallFailedError,
    FunctionTimeoutError,
    RemoteError,
    RequestSizeError,
    ResourceExhaustedError,
)
from .v1 import stream_pb2

CALL_PATH = "/__berth/call"
# `.map` keeps at most this many calls in flight: enough to fill a few dozen containers (the edge
# queues the rest as it queues web requests), few enough that a caller's threads and sockets stay
# modest. Results stream back in input order as they finish.
MAP_CONCURRENCY = 64
# One CallOutput (a pickled result) may be as large as a frame on a container's socket.
MAX_OUTPUT = 64 * 1024 * 1024
# FunctionCall.get(timeout=None) asks in slices of this many seconds, so no proxy in between
# times out an idle connection while the call runs.
GET_SLICE = 55.0


class Transport(Protocol):
    """Sends one call's request body and streams the answer's body back."""

    def stream(self, body: bytes) -> Iterator[bytes]:
        """The answer's body in pieces; a non-200 answer raises `platform_error`. Closing the
        iterator early abandons the call."""
        ...


@dataclass(frozen=True)
class Target:
    """Which function a call goes to: the app, the function's name ("f" or "Model.predict"),
    the ephemeral (`dev`) or deployed copy, and class parameters spelled as a query string."""

    app: str
    function: str
    dev: bool = False
    parameters: Mapping[str, str] = field(default_factory=dict)

    def head(self, **kind: Any) -> stream_pb2.CallHead:
        return stream_pb2.CallHead(
            app=self.app, function=self.function, dev=self.dev, parameters=dict(self.parameters), **kind
        )


def platform_error(status: int, text: str) -> Error:
    """The exception for a call the platform answered with `status` (not 200) and `text`."""
    text = text.strip() or "(no explanation given)"
    kind: type[Error]
    if status == 401:
        kind = AuthError
        text += (
            "; the API token is missing or wrong: run `berth up` on this machine, or `berth login` "
            "with a token of this platform"
        )
    elif status == 403:
        kind = AuthError  # refused whoever asks (a container calling another app): the text says why
    elif status == 404:
        kind = NotFoundError
    elif status == 413:
        kind = RequestSizeError
    elif status in (429, 503):
        kind = ResourceExhaustedError
    elif status == 504:
        kind = FunctionTimeoutError
    else:
        kind = CallFailedError
    error: Any = kind(f"function call failed with HTTP {status}: {text}")
    error.status, error.text = status, text  # AuthError and NotFoundError get them too
    return error  # type: ignore[no-any-return]


def exception_from(error: stream_pb2.CallError) -> BaseException:
    """The remote exception, re-created: the same class when it unpickles here (with the remote
    traceback added as a note), else RemoteError naming its class, message and traceback."""
    if error.exception:
        try:
            exc = _cloudpickle().loads(error.exception)
        except Exception:  # noqa: BLE001 - its class may not exist here: fall through
            exc = None
        if isinstance(exc, BaseException):
            if error.traceback:
                exc.add_note(f"Remote traceback:\n{error.traceback.rstrip()}")
            return exc
    builtin = getattr(builtins, error.type, None)
    if not error.exception and isinstance(builtin, type) and issubclass(builtin, Exception):
        # The platform's own errors (a get() that timed out: "TimeoutError") carry no pickle.
        exc = builtin(error.message)
        if error.traceback:
            exc.add_note(f"Remote traceback:\n{error.traceback.rstrip()}")
        return exc
    return RemoteError(error.type, error.message, error.traceback)


def outputs(chunks: Iterable[bytes]) -> Iterator[stream_pb2.CallOutput]:
    """The CallOutputs in an answer's body, as its pieces arrive."""
    decoder = codec.Decoder(stream_pb2.CallOutput.FromString, MAX_OUTPUT)
    for chunk in chunks:
        yield from decoder.feed(chunk)
    if decoder.pending:
        raise Error("the function call's answer ended inside an output; the connection was cut")


def _value(output: stream_pb2.CallOutput) -> Any:
    kind = output.WhichOneof("kind")
    if kind == "value":
        return _cloudpickle().loads(output.value)
    if kind == "error":
        raise exception_from(output.error)
    raise Error(f"the function call answered {kind or 'nothing'} where a value was expected")


def request_body(head: stream_pb2.CallHead, args: tuple[Any, ...] | None, kwargs: Mapping[str, Any]) -> bytes:
    """The call's request body: the CallHead, then (unless `args` is None) the pickled arguments."""
    body = codec.encode(head)
    if args is not None:
        body += codec.encode(stream_pb2.CallInput(args=_cloudpickle().dumps((args, dict(kwargs)))))
    return body


def _cloudpickle() -> Any:
    import cloudpickle  # imported at the first call: `import berth` needs only protobuf

    return cloudpickle


_http_lock = threading.Lock()
_http: Transport | None = None


def transport() -> Transport:
    """The container's channel to its agent inside a container, else HTTP to the configured edge."""
    from ._runtime import call_client

    client = call_client.current()
    if client is not None:
        return client
    if os.environ.get("BERTH_SOCKET") and os.environ.get("BERTH_BOOT"):
        raise InvalidError(
            "function calls from a container work once it has started: call .remote() from a "
            "request handler or another function, not at import time or in an @enter hook"
        )
    global _http
    with _http_lock:
        if _http is None:
            from ._call_http import HttpTransport

            _http = HttpTransport.from_config()
        return _http


def _single(answer: Iterator[bytes], what: str) -> stream_pb2.CallOutput:
    """The one CallOutput of a plain answer, read to its end so the connection can be reused."""
    try:
        found = list(outputs(answer))
    finally:
        _close(answer)
    if not found:
        raise Error(f"{what} ended without an answer; the connection was cut")
    return found[0]


def call(target: Target, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """`.remote`: runs the function once and returns its result (or raises its exception)."""
    answer = transport().stream(request_body(target.head(), args, kwargs))
    return _value(_single(answer, f"the call of {target.function}"))


def call_gen(target: Target, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Iterator[Any]:
    """`.remote_gen`: each value the remote generator yields, as it yields it."""
    answer = transport().stream(request_body(target.head(generator=True), args, kwargs))
    try:
        for output in outputs(answer):
            if output.WhichOneof("kind") == "end":
                return
            yield _value(output)
    finally:
        _close(answer)
    raise Error(f"the generator {target.function} stopped without finishing; the connection was cut")


def spawn(target: Target, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """`.spawn`: starts the call in the background and returns its id."""
    answer = transport().stream(request_body(target.head(spawn=True), args, kwargs))
    output = _single(answer, f"spawning {target.function}")
    kind = output.WhichOneof("kind")
    if kind == "error":
        raise exception_from(output.error)
    if kind != "call_id" or not output.call_id:
        raise Error(f"spawning {target.function} returned no call id")
    return output.call_id


def result(call_id: str, timeout: float | None) -> Any:
    """`FunctionCall.get`: the spawned call's result, waiting up to `timeout` seconds (None: as
    long as it takes). TimeoutError if it has not finished by then."""
    remaining = timeout
    while True:
        wait_seconds = GET_SLICE if remaining is None else min(max(remaining, 0.0), GET_SLICE)
        head = stream_pb2.CallHead(result_of=call_id, wait_seconds=wait_seconds)
        output = _single(transport().stream(request_body(head, None, {})), f"the result of {call_id}")
        if output.WhichOneof("kind") != "error" or output.error.type != "TimeoutError":
            return _value(output)
        if remaining is not None:
            # Long waits go in slices (GET_SLICE), so an idle connection never looks dead.
            remaining -= wait_seconds
            if remaining <= 0:
                raise TimeoutError(f"function call {call_id} has not finished within {timeout:g} s")


def map_calls(
    run: Callable[[tuple[Any, ...], Mapping[str, Any]], Any],
    inputs: Iterable[tuple[tuple[Any, ...], Mapping[str, Any]]],
    *,
    order_outputs: bool,
    return_exceptions: bool,
) -> Iterator[Any]:
    """Runs `run(args, kwargs)` for each input with at most MAP_CONCURRENCY in flight; yields the
    results in input order (or as they finish), exceptions too with `return_exceptions` (else the
    first one raises and the calls not started yet are dropped)."""
    pool = ThreadPoolExecutor(max_workers=MAP_CONCURRENCY, thread_name_prefix="berth-map")
    source = iter(inputs)
    pending: deque[Future[Any]] = deque()
    running: set[Future[Any]] = set()

    def fill() -> None:
        while len(running) < MAP_CONCURRENCY:
            try:
                args, kwargs = next(source)
            except StopIteration:
                return
            future = pool.submit(run, args, kwargs)
            if order_outputs:
                pending.append(future)
            running.add(future)

    def outcome(future: Future[Any]) -> Any:
        error = future.exception()
        if error is None:
            return future.result()
        if return_exceptions and isinstance(error, Exception):
            return error
        raise error

    try:
        fill()
        while running:
            if order_outputs:
                future = pending.popleft()
                wait([future])
            else:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                future = done.pop()
            running.discard(future)
            fill()
            yield outcome(future)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _close(answer: Iterator[bytes]) -> None:
    close = getattr(answer, "close", None)
    if close is not None:
        close()
