"""Web requests past the redirect limit (150 s), as the hosted service answers them.

A request whose response has not started after `after` seconds is answered `303 See Other` to
its own URL plus `__berth_function_call_id=<call id>` (`__modal_function_call_id` is accepted as
well, for clients written for the hosted service). The call keeps running here; a client
following the redirect waits up to another `after` seconds for its result and gets it, or the
same 303 again, and so on. The function is never run again. Results stay fetchable for
`result_ttl` seconds after the call ends, from any edge (call_records.py); the edge running a
call answers its own follow-ups from memory (calls.py).

What is never redirected: a response whose head has gone out (a stream that started), a request
whose body is still arriving (the redirect waits for its end: cutting an upload short would hand
the function half a body), WebSockets, and a request reaching the limit while this edge already
holds `max_calls` redirected calls (its client keeps waiting on its connection). A result larger
than `max_result`, or than this edge's room for results (`max_bytes`), is not kept: the follow-up
gets a 502 saying so. The function's own timeout still ends it, with the 504 a follower then gets.

Hooked into the edge's request chain (app.py) as `hold` (wraps the request's receive and send)
and `follow` (answers a request naming a call); the wrapping costs a warm request an object and a
dict entry, and the redirect clock is one ticker per edge rather than a timer per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from nats.aio.client import Client

from berth.v1 import state_pb2
from services.common import config, logs, subjects
from services.edge.call_records import CallRecords, RecordsUnavailable, from_head
from services.edge.calls import Call, CallTable, KeptResponse, Result, send_result, valid_call_id
from services.edge.failures import REQUEST_ID_HEADER, Failure, Failures, plain

log = logging.getLogger("berth.edge")

CALL_PARAM = "__berth_function_call_id"
MODAL_CALL_PARAM = "__modal_function_call_id"
_CALL_PARAMS = (CALL_PARAM.encode() + b"=", MODAL_CALL_PARAM.encode() + b"=")
_MARKER = b"_function_call_id="  # in both names: the one check a request without it pays
# How often a running call's record is rewritten, at most; a pending record older than STALE
# of these means the edge running the call is gone.
REFRESH_EVERY = 30.0
STALE_REFRESHES = 4
TOO_MANY_WAITING = "too many redirected calls are being waited for on this edge; try again shortly"
SEE_OTHER = "the function is still running; follow the Location header to wait for its result"
_HOP_BY_HOP = {b"content-length", b"transfer-encoding", b"connection", b"keep-alive"}


@dataclass(frozen=True)
class RedirectSettings:
    after: float = 150.0  # seconds before a request is redirected; 0: never redirect
    result_ttl: float = 600.0  # seconds a finished call's result stays fetchable
    max_calls: int = 256  # redirected calls (running or finished) one edge holds in memory
    max_result: int = 2 << 20  # bytes of one result kept (headers and body); must fit a NATS message
    max_bytes: int = 32 << 20  # bytes of results one edge holds in memory, together


_FLAGS = (
    ("--redirect-after", "BERTH_REDIRECT_AFTER", float, "after",
     "seconds before a request still running is answered 303 to wait for its result (0: never)"),
    ("--call-result-ttl", "BERTH_CALL_RESULT_TTL", float, "result_ttl",
     "seconds a redirected call's result stays fetchable (at most a day)"),
    ("--redirect-max-calls", "BERTH_REDIRECT_MAX_CALLS", int, "max_calls",
     "redirected calls one edge holds, running or finished"),
    ("--redirect-max-result", "BERTH_REDIRECT_MAX_RESULT", int, "max_result",
     "bytes of one redirected call's response kept (past it: a 502)"),
    ("--redirect-max-bytes", "BERTH_REDIRECT_MAX_BYTES", int, "max_bytes",
     "bytes of redirected calls' responses one edge holds together"),
)  # fmt: skip


def add_flags(parser: argparse.ArgumentParser) -> None:
    """The edge's flags for redirects, each with its environment variable."""
    defaults = RedirectSettings()
    for flag, env, kind, name, text in _FLAGS:
        default = config.env_str(env, str(getattr(defaults, name)))
        parser.add_argument(flag, type=_non_negative(kind), default=default, help=f"{text} (env {env})")


def settings_from(args: argparse.Namespace) -> RedirectSettings:
    return RedirectSettings(
        after=args.redirect_after,
        result_ttl=min(max(args.call_result_ttl, 1.0), 24 * 3600.0),
        max_calls=args.redirect_max_calls,
        max_result=args.redirect_max_result,
        max_bytes=args.redirect_max_bytes,
    )


def _non_negative(kind: type[float] | type[int]) -> Any:
    def parse(text: str) -> float | int:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind.__name__}") from None
        if value < 0:
            raise argparse.ArgumentTypeError(f"{text!r} is negative")
        return value

    return parse


async def start_redirects(nc: Client, edge_id: str, settings: RedirectSettings) -> Redirects:
    """The edge's redirects, on the shared bucket (provisioned by `berth up` or the scheduler)."""
    js = nc.jetstream()
    records = None
    try:
        kv = await js.key_value(subjects.KV_CALL_RESULTS)
        records = CallRecords(js, kv, subjects.KV_CALL_RESULTS, edge_id, settings.result_ttl)
    except Exception as exc:  # noqa: BLE001 - a platform provisioned before the bucket existed
        what = "no call results bucket: redirected calls are followed on this edge only"
        logs.event(log, what, logging.WARNING, error=exc)
    redirects = Redirects(
        settings, Failures(nc, edge_id), records, edge_id=edge_id, max_payload=nc.max_payload
    )
    await redirects.start()
    return redirects


# -- one request that may outlive its client's wait --------------------------------------------

_WAITING, _ANSWERING, _REDIRECTED = "waiting", "answering", "redirected"


async def _forever() -> Any:
    # After the redirect the call is no longer the client's: its body is all in, and its going
    # away must not cancel the function. The relay cancels its reader when the call ends.
    await asyncio.Future()


class HeldCall:
    """The receive and send of one HTTP request, as the relay sees them. Until the redirect they
    pass through; after it, the response is kept for the follow-ups instead of sent."""

    __slots__ = (
        "_kept",
        "_receive",
        "_redirects",
        "body_done",
        "call",
        "client_send",
        "due",
        "route",
        "scope",
        "started",
        "state",
        "task",
    )

    def __init__(
        self, redirects: Redirects, route: state_pb2.Route, scope: dict[str, Any], receive: Any, send: Any
    ) -> None:
        self._redirects = redirects
        self.route = route
        self.scope = scope
        self._receive = receive
        self.client_send = send
        self.started = redirects.clock()
        # The request's own task (the server's, running the edge's chain): when it ends, however
        # it ends, a redirected call's result is settled.
        self.task = asyncio.current_task()
        self.state = _WAITING
        self.body_done = False
        self.due = False
        self.call: Call | None = None
        self._kept: KeptResponse | None = None  # the response, once redirected

    async def receive(self) -> Any:
        if self.state is _REDIRECTED:
            return await _forever()
        message = await self._receive()
        if self.state is _REDIRECTED:  # the disconnect our own 303 caused: not the caller's
            return await _forever()
        if message["type"] == "http.request":
            if not message.get("more_body", False):
                self.body_done = True
                if self.due:
                    self._redirects.redirect(self)
        else:
            self._redirects.forget(self)
        return message

    async def send(self, message: Any) -> None:
        if self.state is _REDIRECTED:
            self._keep(message)
            return
        if self.state is _WAITING and message["type"] == "http.response.start":
            self.state = _ANSWERING
            self._redirects.forget(self)
        await self.client_send(message)

    def _keep(self, message: Any) -> None:
        if self._kept is None:
            assert self.call is not None
            self._kept = KeptResponse(self._redirects.table, self.call)
        self._kept.keep(message)

    def result(self) -> Result | None:
        return self._kept.result() if self._kept is not None else None


# -- the edge's side ---------------------------------------------------------------------------


class Redirects:
    """One edge's redirects: the requests it may still redirect, the calls it runs or holds
    results of (CallTable), their records in the shared bucket, and the follow-ups it answers."""

    def __init__(
        self,
        settings: RedirectSettings,
        failures: Failures,
        records: CallRecords | None = None,
        *,
        edge_id: str = "",
        max_payload: int = 1 << 20,
    ) -> None:
        self.settings = settings
        self.clock = time.monotonic
        self.table = CallTable(
            max_calls=settings.max_calls,
            max_result=settings.max_result,
            max_bytes=settings.max_bytes,
            ttl=settings.result_ttl,
        )
        self._failures = failures
        self._records = records
        self._edge_id = edge_id
        self._max_payload = max_payload
        self._live: dict[HeldCall, None] = {}  # requests not yet answered, oldest first
        self._watching = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresh_every = min(REFRESH_EVERY, settings.result_ttl / 4)

    @property
    def records(self) -> CallRecords | None:
        """The shared bucket's records, if this edge has the bucket (spawned calls use it too)."""
        return self._records

    async def start(self) -> None:
        self._spawn(self._tick())
        if self._records is not None:
            self._spawn(self._refresh())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- requests on their way ---------------------------------------------------------------

    def hold(self, route: state_pb2.Route, scope: dict[str, Any], receive: Any, send: Any) -> HeldCall | None:
        """The request's receive and send, wrapped; None when this edge never redirects. Called in
        the request's own task."""
        if self.settings.after <= 0:
            return None
        held = HeldCall(self, route, scope, receive, send)
        self._live[held] = None
        return held

    def forget(self, held: HeldCall) -> None:
        self._live.pop(held, None)

    async def _tick(self) -> None:
        interval = min(1.0, self.settings.after / 10) if self.settings.after > 0 else 1.0
        while True:
            await asyncio.sleep(interval)
            self.sweep()

    def sweep(self) -> None:
        """Redirects the requests now past the limit; drops expired results."""
        # Requests join _live in arrival order, so this looks only at those due and one more.
        deadline = self.clock() - self.settings.after
        while self._live:
            held = next(iter(self._live))
            if held.started > deadline:
                break
            del self._live[held]
            held.due = True
            if held.body_done:  # else the end of its body redirects it (HeldCall.receive)
                self.redirect(held)
        self.table.expire()

    def redirect(self, held: HeldCall) -> None:
        """Answers the client 303 if nothing was sent yet and the table has room. Synchronous up
        to the state change, so the relay's response head and the 303 cannot both go out."""
        if held.state is not _WAITING or held.task is None or held.task.done():
            return  # answered, or its chain ended without a word through us (uvicorn's own 500)
        call = self.table.open(held.route.app, held.route.function)
        if call is None:
            log.warning("redirect skipped: this edge holds %d redirected calls already", len(self.table))
            return
        held.state = _REDIRECTED
        held.call = call
        self._spawn(self._see_other(held, call))
        held.task.add_done_callback(lambda _: self._spawn(self.finished(held)))

    async def _see_other(self, held: HeldCall, call: Call) -> None:
        if self._records is not None:
            await self._records.announce(call)
        location = _location(held.scope, call.id)
        with contextlib.suppress(Exception):  # the client may be gone: the call runs on regardless
            await plain(held.client_send, 303, SEE_OTHER, headers=_see_other_headers(location))

    async def finished(self, held: HeldCall) -> None:
        """The request's chain is over: what the call's response became is its result, for the
        follow-ups here and, through the bucket, on every edge."""
        call = held.call
        assert call is not None
        result = held.result()
        if result is None:
            if call.too_large:
                failure = Failure(
                    502,
                    "result too large to keep for a redirected call: an edge keeps "
                    f"{_mib(self.settings.max_result)} of one call's response, "
                    f"{_mib(self.settings.max_bytes)} of all calls' (BERTH_REDIRECT_MAX_RESULT, "
                    "BERTH_REDIRECT_MAX_BYTES)",
                )
            else:
                failure = Failure(502, "the function's response ended before it was complete")
            result = await self._error(held.route, failure)
        self.table.finish(call, result)
        if self._records is not None and await self._records.store(call, result, self._max_payload):
            self.table.stored(call)

    async def _error(self, route: state_pb2.Route, failure: Failure) -> Result:
        text, rid = await self._failures.public(route, failure)
        body = (text + "\n").encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8")]
        if rid:
            headers.append((REQUEST_ID_HEADER, rid.encode()))
        return Result(failure.status, headers, body)

    async def _refresh(self) -> None:
        assert self._records is not None
        while True:
            await asyncio.sleep(self._refresh_every)
            for call in self.table.running():
                await self._records.refresh(call)

    # -- follow-ups ----------------------------------------------------------------------------

    @staticmethod
    def is_follow_up(scope: dict[str, Any]) -> bool:
        query = scope.get("query_string") or b""
        return _MARKER in query and any(p in query for p in _CALL_PARAMS)

    async def follow(self, route: state_pb2.Route, scope: dict[str, Any], send: Any) -> None:
        """Answers a request naming a call: its result, or after `after` seconds the 303 again."""
        call_id = _call_id(scope.get("query_string") or b"")
        if not call_id:
            await plain(send, 404, self._unknown())
            return
        call = self.table.get(call_id)
        if call is not None:
            await self._follow_here(route, scope, send, call)
            return
        if self._records is None:
            await plain(send, 404, self._unknown())
            return
        if self._watching >= self.settings.max_calls:
            await plain(send, 503, TOO_MANY_WAITING, headers=[(b"retry-after", b"1")])
            return
        self._watching += 1
        try:
            await self._follow_elsewhere(route, scope, send, call_id)
        except RecordsUnavailable as exc:
            log.warning("call results unreadable: %s", exc)
            await plain(
                send, 503, "the platform cannot look up redirected calls right now; try again shortly"
            )
        finally:
            self._watching -= 1

    async def _follow_here(
        self, route: state_pb2.Route, scope: dict[str, Any], send: Any, call: Call
    ) -> None:
        if not call.belongs_to(route.app, route.function):
            await plain(send, 404, self._unknown())
            return
        if not call.done.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.after):
                    await call.done.wait()
        if call.result is None:
            await plain(send, 303, SEE_OTHER, headers=_see_other_headers(_location(scope, call.id)))
            return
        await send_result(send, call.result, dropping=_HOP_BY_HOP)
        self.table.served(call)

    async def _follow_elsewhere(
        self, route: state_pb2.Route, scope: dict[str, Any], send: Any, call_id: str
    ) -> None:
        assert self._records is not None
        record = await self._records.get(call_id)
        if record is None or record.app != route.app or record.function != route.function or record.spawned:
            await plain(send, 404, self._unknown())
            return
        if not record.done and not self.lost(record):
            record = await self._records.wait(call_id, self.settings.after)
            if record is None:
                await plain(send, 404, self._unknown())
                return
        if record.done:
            await send_result(send, from_head(record.result), dropping=_HOP_BY_HOP)
        elif self.lost(record):
            lost = Failure(502, "the edge running this call stopped before it finished; its result is lost")
            await self._failures.answer(send, route, lost)
        else:
            await plain(send, 303, SEE_OTHER, headers=_see_other_headers(_location(scope, call_id)))

    def lost(self, record: Any) -> bool:
        # Only this edge could be running a call it names, and it has none such in memory.
        if record.edge_id == self._edge_id:
            return True
        age = time.time() - record.updated_at_ms / 1000
        return age > STALE_REFRESHES * self._refresh_every

    def _unknown(self) -> str:
        return (
            "unknown or expired call id: results of redirected calls are kept "
            f"{self.settings.result_ttl:g} s after the call ends, for the function that ran them"
        )


def _call_id(query: bytes) -> str:
    for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
        if name in (CALL_PARAM, MODAL_CALL_PARAM):
            return value if valid_call_id(value) else ""
    return ""


def _location(scope: dict[str, Any], call_id: str) -> bytes:
    """The request's own URL (path and query, relative: the client keeps the host it used) with
    the call id in place of any it named."""
    path = bytes(scope.get("raw_path") or scope.get("path", "/").encode())
    # "//host" or "/\host" would read as another host to a client: the second character is
    # escaped (the follow-up's path is never used for anything but this URL).
    if path[1:2] in (b"/", b"\\"):
        path = b"/%" + path[1:2].hex().upper().encode() + path[2:]
    path = path.replace(b"\\", b"%5C")
    query = [
        p for p in (scope.get("query_string") or b"").split(b"&") if p and not p.startswith(_CALL_PARAMS)
    ]
    query.append(_CALL_PARAMS[0] + call_id.encode())
    return path + b"?" + b"&".join(query)


def _see_other_headers(location: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"location", location), (b"cache-control", b"no-store")]


def _mib(size: int) -> str:
    return f"{size / (1 << 20):g} MiB"
