"""`POST /__berth/call`: function calls (`f.remote`, `.remote_gen`, `.spawn`, `FunctionCall.get`)
on the edge's bare host, the same host `/metrics` answers on.

The body is a length-prefixed CallHead (at most MAX_HEAD bytes, else a 413), then the
length-prefixed CallInput (berth._wire.codec). A caller over HTTP sends `Authorization: Bearer
<API token>` (401 otherwise), checked with the scheduler like /metrics tokens and remembered for
10 s (token_cache.py); failed checks count against the client address's budget shared with
/metrics (EdgeMetrics.token_wait): past it, 429 with Retry-After and no look-up. Loopback is not
exempt here, as a call needs a token from everyone. A container's call, relayed by its agent
(call_ingress.py), is trusted without one, but only to its own app (the same name and copy, live or
dev: arguments are cloudpickle, so a call runs code in the callee's container with its secrets);
another app's is a 403 unless the operator set `--container-calls any` (CONTAINER_CALLS_ANY).
Fetching a spawned call's result (result_of) runs nothing and needs its unguessable id: allowed.

The function is found by (app, function, dev) under its call route
(services/common/call_routes.py): an unknown one is a 404 naming both. Then the call is a web
request in all but its head: class parameters are checked and pick the pool as `?p=1` would, the
workspace's rate limit applies, a slot is leased from the same pools (queueing, max_containers,
the 429/503 answers), and the stream is relayed (services/edge/proxy.py) with RequestHead.call set
and the CallInput as its body, flow-controlled and with the body timeout of web requests. The
container's answer (status 200, length-prefixed CallOutputs) comes back as it is; the function's
timeout is a 504. Calls are counted and timed in the edge's metrics and get access lines (path
"/__berth/call", the function named) like requests.

**spawn**: the CallInput is read whole here (at most MAX_SPAWN_INPUT, else a 413), the answer is
one CallOutput{call_id} at once, and the call runs in the background on this edge. Its answer is
kept in the redirects' CallTable (services/edge/calls.py, marked `spawned`) and the shared
`berth-call-results` bucket (call_records.py), with their TTL and size bounds: an answer over the
per-result bound is kept as a CallError saying so, a platform failure (e.g. a 504) as its status and
text. **result_of**: waits up to `wait_seconds` (at most MAX_WAIT) for that call on any edge and
answers what was kept, a CallError of type "TimeoutError" while it runs, a 404 for an id unknown,
expired or not a spawned call's, a 502 if the edge running it died.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import DecodeError
from nats.aio.client import Client

from berth._spec_rules import DEFAULT_TIMEOUT
from berth._wire import codec
from berth._wire.frames import MAX_FRAME
from berth.v1 import bus_pb2, state_pb2, stream_pb2
from services.common import call_routes, subjects
from services.common.pools import ParameterError
from services.edge import access
from services.edge.call_records import RecordsUnavailable, from_head
from services.edge.calls import Call, KeptResponse, Result, send_result, valid_call_id
from services.edge.failures import Failure, Failures, plain
from services.edge.leases import Lease, PoolFailed, PoolSlots, acquire_current
from services.edge.metrics import EdgeMetrics, bearer
from services.edge.params import parameter_set, retry_later
from services.edge.proxy import Unreached, relay_http, replaying, stalled
from services.edge.ratelimit import RateLimiter, retry_after
from services.edge.redirects import Redirects
from services.edge.relay import Relay
from services.edge.routing import RoutesUnavailable, RouteTable
from services.edge.token_cache import TokenCache

log = logging.getLogger("berth.edge")

CALL_PATH = "/__berth/call"
MAX_HEAD = 64 * 1024
MAX_SPAWN_INPUT = 32 << 20
MAX_WAIT = 600.0
# The most CallInput bytes a container takes: its socket's frame limit (berth._runtime.calls).
MAX_INPUT = MAX_FRAME
CONTENT_TYPE = b"application/x-berth-call-outputs"
NO_TOKEN = (
    "a function call needs an API token: send `Authorization: Bearer <token>` "
    "(`berth token create` makes one)"
)
BAD_TOKEN = "the API token is not valid (unknown or revoked); `berth token create` makes a new one"
UNREADABLE = "the platform cannot look up spawned calls right now; try again shortly"
NO_ROUTES = "the platform cannot look up apps right now; try again shortly"
TOO_MANY_GUESSES = "too many failed API token checks from this address; retry in {seconds} s"
# The edge's --container-calls: may a container call only its own app, or any app?
CONTAINER_CALLS_OWN_APP = "own-app"
CONTAINER_CALLS_ANY = "any"
CONTAINER_CALLS = (CONTAINER_CALLS_OWN_APP, CONTAINER_CALLS_ANY)
_DROPPED_HEADERS = frozenset({b"authorization", b"content-length", b"transfer-encoding", b"cookie"})


class Refused(Exception):
    def __init__(self, status: int, text: str) -> None:
        super().__init__(text)
        self.status = status


@dataclass(frozen=True)
class Caller:
    """The container that made a call, as its agent named it (RequestHead.caller_container and
    caller_app): "<agent id>/<container id>", and its app key ("live.<name>" or "dev.<name>")."""

    container: str
    app: str


def describe_app(app_key: str) -> str:
    """An app key as people name the app: 'name' or 'name' (the `berth serve` copy)."""
    copy, _, name = app_key.partition(".")
    if not name:
        return repr(app_key) if app_key else "an unnamed app"
    return f"{name!r}{' (the `berth serve`/`berth run` copy)' if copy == 'dev' else ''}"


def cross_app(caller_app: str, target_app: str) -> str:
    return (
        f"a container of app {describe_app(caller_app)} may not call app {describe_app(target_app)}: "
        "containers call only their own app's functions, as a call's arguments run code in the "
        "callee's container. An operator can allow calls across apps with the edge's "
        "`--container-calls any` (env BERTH_CONTAINER_CALLS=any; `berth up --container-calls any`)"
    )


def no_function(app: str, function: str, dev: bool) -> str:
    where = " (the `berth serve` copy)" if dev else ""
    return f"app {app!r}{where} has no function {function!r}"


def outputs_body(*outputs: stream_pb2.CallOutput) -> bytes:
    return b"".join(codec.encode(o) for o in outputs)


def error_body(kind: str, message: str) -> bytes:
    return outputs_body(stream_pb2.CallOutput(error=stream_pb2.CallError(type=kind, message=message)))


def parameters_query(parameters: dict[str, str]) -> bytes:
    """CallHead.parameters as the query string a web request picking the same pool would send."""
    return urllib.parse.urlencode(sorted(parameters.items())).encode()


async def _next(receive: Any, timeout: float) -> dict[str, Any]:
    """The client's next message; a 408 if none comes within `timeout` (as for web bodies)."""
    try:
        async with asyncio.timeout(timeout):
            message: dict[str, Any] = await receive()
    except TimeoutError:
        raise Refused(408, stalled(timeout)) from None
    return message


async def read_head(receive: Any, timeout: float) -> tuple[stream_pb2.CallHead, bytes, bool] | None:
    """The CallHead, the body bytes read past it, and whether more body follows; None if the
    client left. Refused for a malformed or oversized head, or a body that stalls."""
    buffer = bytearray()
    more = True
    need = codec.HEADER.size
    while len(buffer) < need and more:
        message = await _next(receive, timeout)
        if message["type"] == "http.disconnect":
            return None
        buffer += message.get("body", b"")
        more = message.get("more_body", False)
        if need == codec.HEADER.size and len(buffer) >= need:
            (length,) = codec.HEADER.unpack_from(buffer)
            if length > MAX_HEAD:
                raise Refused(413, f"the call's head is {length} bytes; at most {MAX_HEAD} are taken")
            need += length
    if len(buffer) < need:
        raise Refused(400, "the body must be a length-prefixed CallHead, then a length-prefixed CallInput")
    try:
        head = stream_pb2.CallHead.FromString(bytes(buffer[codec.HEADER.size : need]))
    except DecodeError:
        raise Refused(400, "the call's head is not a CallHead") from None
    return head, bytes(buffer[need:]), more


async def read_rest(receive: Any, held: bytes, more: bool, limit: int, timeout: float) -> bytes | None:
    """The rest of the body (a spawn's CallInput) whole, at most `limit` bytes; None if the client left."""
    parts = [held]
    size = len(held)
    while more:
        message = await _next(receive, timeout)
        if message["type"] == "http.disconnect":
            return None
        data = message.get("body", b"")
        size += len(data)
        if size > limit:
            raise Refused(413, f"a spawned call's arguments may be at most {limit >> 20} MiB")
        parts.append(data)
        more = message.get("more_body", False)
    return b"".join(parts)


def spawned_result(kept: KeptResponse, call: Call, max_result: int) -> Result:
    """What a spawned call answers: its kept answer, or a CallError saying why there is none."""
    result = kept.result()
    if result is not None:
        return result
    if call.too_large:
        body = error_body(
            "ResultTooLarge",
            f"the spawned call's result is over the {max_result >> 20} MiB an edge keeps of one "
            "call (BERTH_REDIRECT_MAX_RESULT) or its room for results; return less, or store it "
            "elsewhere and return where",
        )
    else:
        body = error_body("CallFailed", "the function's answer ended before it was complete")
    return Result(200, [(b"content-type", CONTENT_TYPE)], body)


class CallApi:
    """The edge's function-call endpoint (see the module docstring)."""

    def __init__(
        self,
        *,
        routes: RouteTable,
        relay: Relay,
        slots: Callable[[bus_pb2.PoolKey], PoolSlots],
        failures: Failures,
        queue_timeout: float,
        tokens: TokenCache | None = None,
        redirects: Redirects | None = None,
        rate_limit: RateLimiter | None = None,
        metrics: EdgeMetrics | None = None,
        nc: Client | None = None,
        container_calls: str = CONTAINER_CALLS_OWN_APP,
    ) -> None:
        if container_calls not in CONTAINER_CALLS:
            raise ValueError(f"container_calls must be one of {CONTAINER_CALLS}, not {container_calls!r}")
        self._any_app = container_calls == CONTAINER_CALLS_ANY
        self._routes = routes
        self._relay = relay
        self._slots = slots
        self._failures = failures
        self._queue_timeout = queue_timeout
        self._tokens = tokens
        self._redirects = redirects
        self._rate_limit = rate_limit
        self._metrics = metrics
        self._nc = nc  # its max_payload bounds a result kept in the bucket
        self._tasks: set[asyncio.Task[None]] = set()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task

    async def serve(
        self, scope: dict[str, Any], receive: Any, send: Any, *, caller: Caller | None = None
    ) -> None:
        """One call. `caller`: the container that made it, relayed by its agent (no token; its own
        app only, unless any app is allowed)."""
        try:
            await self._serve(scope, receive, send, caller)
        except Refused as exc:
            await plain(send, exc.status, str(exc))

    async def _serve(self, scope: dict[str, Any], receive: Any, send: Any, caller: Caller | None) -> None:
        if scope.get("method") != "POST":
            await plain(send, 405, f"function calls are POST {CALL_PATH}", headers=[(b"allow", b"POST")])
            return
        if caller is None and not await self._authorized(scope, send):
            return
        read = await read_head(receive, self._relay.body_timeout)
        if read is None:
            return  # the client left
        head, held, more = read
        if head.result_of:
            await self._result_of(head, send)
            return
        if caller is not None and not self._any_app:
            target = subjects.app_key(head.app, head.dev)
            if caller.app != target:
                raise Refused(403, cross_app(caller.app, target))
        route = await self._route(head)
        access.routed(scope, route)
        if self._metrics is not None:
            send = self._metrics.observe(route, send)
        limiter = self._rate_limit
        if limiter is not None:
            wait = limiter.take(route.workspace)
            if wait:
                seconds = retry_after(wait)
                text = f"rate limit exceeded for workspace {route.workspace}; retry in {seconds} s"
                await plain(send, 429, text, headers=[(b"retry-after", seconds.encode())])
                return
        try:
            params = parameter_set(route.parameters, parameters_query(dict(head.parameters)))
        except ParameterError as exc:
            raise Refused(400, str(exc)) from None
        key = bus_pb2.PoolKey(app=route.app, function=route.function, version=route.version, params=params)
        if len(held) >= codec.HEADER.size:
            (size,) = codec.HEADER.unpack_from(held)
            if size > MAX_INPUT:
                raise Refused(413, f"the call's arguments are {size} bytes; at most {MAX_INPUT} are taken")
        inner = stream_pb2.CallHead(
            app=head.app, function=head.function, dev=head.dev, parameters=head.parameters,
            generator=head.generator,
        )  # fmt: skip
        call_scope = _call_scope(scope)
        if head.spawn:
            await self._spawn(call_scope, receive, send, route, key, inner, held, more)
            return
        first = {"type": "http.request", "body": held, "more_body": more}
        failed = await self._run(call_scope, replaying(first, receive), send, route, key, inner)
        if failed is not None:
            await self._failures.answer(send, route, failed)

    async def _authorized(self, scope: dict[str, Any], send: Any) -> bool:
        """Whether the HTTP caller's token is valid; if not, it was answered (401, or 429 once its
        address used up its failed checks)."""
        token = bearer(scope.get("headers", ()))
        if not token:
            raise Refused(401, NO_TOKEN)
        wait = self._metrics.token_wait(scope, loopback_too=True) if self._metrics is not None else 0.0
        if wait > 0:
            seconds = retry_after(wait)
            text = TOO_MANY_GUESSES.format(seconds=seconds)
            await plain(send, 429, text, headers=[(b"retry-after", seconds.encode())])
            return False
        if self._tokens is not None and await self._tokens.valid(token):
            return True
        if self._metrics is not None:
            self._metrics.token_failed(scope)
        raise Refused(401, BAD_TOKEN)

    async def _route(self, head: stream_pb2.CallHead) -> state_pb2.Route:
        missing = Refused(404, no_function(head.app, head.function, head.dev))
        route_key = call_routes.key_for(head.app, head.function, head.dev)
        if route_key is None:
            raise missing
        try:
            route = self._routes.resolve(route_key) or await self._routes.fetch(route_key)
        except RoutesUnavailable:
            raise Refused(503, NO_ROUTES) from None
        if route is None:
            raise missing
        return route

    async def _run(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        route: state_pb2.Route,
        key: bus_pb2.PoolKey,
        call: stream_pb2.CallHead,
        *,
        again: bool = True,
    ) -> Failure | None:
        """Leases a slot as a web request does and relays the call; the failure to answer, if any.
        A call that reached no function (its container's agent restarted) is sent once more."""
        try:
            slots, lease = await self._acquire(key, route, call)
        except PoolFailed as exc:
            if exc.retry_after:  # e.g. 429, too many distinct parameter sets
                await retry_later(send, exc, websocket=False)
                return None
            return Failure(exc.status, str(exc))
        except TimeoutError:
            return Failure(503, f"no container became free within {self._queue_timeout:.0f}s")
        except RoutesUnavailable:
            return Failure(503, NO_ROUTES)
        access.leased(scope, key.params, lease.container_id)
        try:
            timeout = route.timeout or DEFAULT_TIMEOUT
            failed = await relay_http(scope, receive, send, self._relay, lease, timeout, call)
            if isinstance(failed, Unreached):
                slots.drop(lease.container_id)  # before release: no waiter may get its slot
        finally:
            slots.release(lease)
        if again and isinstance(failed, Unreached) and failed.first is not None:
            receive = replaying(failed.first, receive)
            return await self._run(scope, receive, send, route, key, call, again=False)
        return failed

    async def _acquire(
        self, key: bus_pb2.PoolKey, route: state_pb2.Route, call: stream_pb2.CallHead
    ) -> tuple[PoolSlots, Lease]:
        missing = no_function(call.app, call.function, call.dev)
        fetch = functools.partial(self._routes.fetch, route.host_label)
        return await acquire_current(self._slots, key, fetch, missing, self._queue_timeout)

    # -- spawn and result_of -------------------------------------------------------------------

    async def _spawn(
        self,
        scope: dict[str, Any],
        receive: Any,
        send: Any,
        route: state_pb2.Route,
        key: bus_pb2.PoolKey,
        call_head: stream_pb2.CallHead,
        held: bytes,
        more: bool,
    ) -> None:
        redirects = self._redirects
        if redirects is None:
            raise Refused(503, "this edge keeps no call results, so it cannot spawn calls")
        body = await read_rest(receive, held, more, MAX_SPAWN_INPUT, self._relay.body_timeout)
        if body is None:
            return
        call = redirects.table.open(route.app, route.function, spawned=True)
        if call is None:
            raise Refused(503, "this edge holds too many unfetched calls; try again shortly")
        if redirects.records is not None:
            await redirects.records.announce(call)
        task = asyncio.create_task(self._background(call, scope, route, key, call_head, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await _answer(send, Result(200, [(b"content-type", CONTENT_TYPE)], outputs_body(
            stream_pb2.CallOutput(call_id=call.id)
        )))  # fmt: skip

    async def _background(
        self,
        call: Call,
        scope: dict[str, Any],
        route: state_pb2.Route,
        key: bus_pb2.PoolKey,
        call_head: stream_pb2.CallHead,
        body: bytes,
    ) -> None:
        redirects = self._redirects
        assert redirects is not None
        kept = KeptResponse(redirects.table, call)

        async def keep(message: dict[str, Any]) -> None:
            kept.keep(message)

        first = {"type": "http.request", "body": body, "more_body": False}
        try:
            failed = await self._run(scope, replaying(first, _forever), keep, route, key, call_head)
            if failed is not None:
                await self._failures.answer(keep, route, failed)
        except RuntimeError as exc:  # the answer broke off midway (proxy.py)
            await self._failures.answer(keep, route, Failure(502, str(exc)))
        result = spawned_result(kept, call, redirects.settings.max_result)
        redirects.table.finish(call, result)
        records = redirects.records
        max_payload = self._nc.max_payload if self._nc is not None else 1 << 20
        if records is not None and await records.store(call, result, max_payload):
            redirects.table.stored(call)

    async def _result_of(self, head: stream_pb2.CallHead, send: Any) -> None:
        call_id = head.result_of
        redirects = self._redirects
        unknown = Refused(404, self._unknown(call_id))
        if redirects is None or not valid_call_id(call_id):
            raise unknown
        wait = min(max(head.wait_seconds, 0.0), MAX_WAIT)
        call = redirects.table.get(call_id)
        if call is not None:
            if not call.spawned:
                raise unknown
            if not call.done.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await call.done.wait()
            if call.result is None:
                await _answer(send, _running(call_id, wait))
            else:
                await _answer(send, call.result)
            return
        records = redirects.records
        if records is None:
            raise unknown
        try:
            record = await records.get(call_id)
            if record is None or not record.spawned:
                raise unknown
            if not record.done and not redirects.lost(record):
                record = await records.wait(call_id, wait)
                if record is None:
                    raise unknown
        except RecordsUnavailable as exc:
            log.warning("call results unreadable: %s", exc)
            raise Refused(503, UNREADABLE) from None
        if record.done:
            await _answer(send, from_head(record.result))
        elif redirects.lost(record):
            raise Refused(502, "the edge running this call stopped before it finished; its result is lost")
        else:
            await _answer(send, _running(call_id, wait))

    def _unknown(self, call_id: str) -> str:
        ttl = self._redirects.settings.result_ttl if self._redirects is not None else 0
        return (
            f"unknown or expired call id {call_id[:64]!r}: a spawned call's result is kept {ttl:g} s "
            "after the call ends"
        )


def _running(call_id: str, wait: float) -> Result:
    body = error_body("TimeoutError", f"call {call_id} has not finished within {wait:g}s (it still runs)")
    return Result(200, [(b"content-type", CONTENT_TYPE)], body)


async def _forever() -> Any:
    # A spawned call has no client: nobody goes away. The relay cancels this when the call ends.
    await asyncio.Future()


async def _answer(send: Any, result: Result) -> None:
    await send_result(send, result, dropping=_DROPPED_HEADERS)


def _call_scope(scope: dict[str, Any]) -> dict[str, Any]:
    """The scope the container's head is built from: the caller's credentials and body framing
    stay at the edge (the body the container gets is shorter: the CallHead went into the head)."""
    call_scope = dict(scope)
    call_scope["headers"] = [h for h in scope.get("headers", ()) if h[0].lower() not in _DROPPED_HEADERS]
    call_scope["query_string"] = b""
    return call_scope
