"""The edge's Prometheus series and its `/metrics` page on the bare host.

What the edge observes (it sees every request):

- `berth_requests_total{app,function,status_class}`: requests to a function, counted when the
  response ends (its last body message), by the class of the status the client got (`2xx`, …);
  a WebSocket counts once, `1xx` when accepted, else the class of its denial. A request whose
  client left before its response ended is not counted: no status reached anyone.
- `berth_request_duration_seconds{app,function}`: from the route being known to the response's
  end, queueing for a container and cold starts included (HTTP only: a WebSocket's is its session).
- `berth_queue_depth{app,function}`: requests waiting at this edge for a container slot, read from
  the edge's pools when scraped (nothing on the request path).

The hot path costs one small object per request (the send wrapper below) and two dict lookups for
the label children, which are bound once per (app, function) and status class and then cached.

`GET /metrics` on the edge's own name (a host without an app label, like `/healthz`) answers a
loopback client (the TCP peer: the edge reads no proxy header, uvicorn runs with
proxy_headers=False), or any client sending `Authorization: Bearer <API token>`. The edge holds
neither the token key nor read access to the tokens bucket, so it asks the scheduler
(berth.sched.token-check) and remembers a yes for auth.VERIFIED_TTL_SECONDS. Everyone else gets the
same 404 as any other unknown page, so the page's existence is not advertised. Each failed token
check cost a scheduler round trip, so a client address gets TOKEN_FAILURE_BURST failures, then one
per 1/TOKEN_FAILURE_RATE seconds: past that its token attempts get 429 with Retry-After, asking
nothing (a loopback client needs no token and is never limited). Failed tokens on
`/__berth/call` (call_api.py) take from the same budget, loopback included there. The page is the
edge's registry (its series and process metrics) followed by the scheduler's series
(berth.sched.metrics: cold starts, containers by state), fetched on each scrape, so one scrape
target shows the whole platform; with several edges, sum the scheduler's series from one edge only
(or scrape the scheduler's own metrics port).
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from nats.aio.client import Client
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from berth.v1 import bus_pb2, state_pb2
from services.common import auth, bus, metrics, subjects
from services.edge.leases import PoolSlots
from services.edge.ratelimit import RateLimiter, retry_after

log = logging.getLogger("berth.edge")

# Request latency through the platform: sub-millisecond warm hops up to the 300 s queue timeout.
DURATION_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    150.0, 300.0,
)  # fmt: skip
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
SCHEDULER_TIMEOUT = 2.0  # a scrape waits at most this for the scheduler's verdict or series
# Failed /metrics token checks per client address: a burst, then one per 10 s.
TOKEN_FAILURE_BURST = 5
TOKEN_FAILURE_RATE = 0.1
NOT_HERE = "this is the Berth edge; apps live at {workspace}--{app}-{function}.{domain}"

TokenCheck = Callable[[str], Awaitable[bool]]
SchedulerSeries = Callable[[], Awaitable[bytes]]


class RouteMetrics:
    """One function's label children, bound once: the request path only calls inc/observe."""

    __slots__ = ("_counts", "_duration")

    def __init__(self, requests: Counter, duration: Histogram, app: str, function: str) -> None:
        self._counts = tuple(requests.labels(app, function, cls) for cls in STATUS_CLASSES)
        self._duration = duration.labels(app, function)

    def done(self, status: int, seconds: float | None) -> None:
        self._counts[status // 100 - 1 if 100 <= status < 600 else 4].inc()  # no status: a 5xx
        if seconds is not None:
            self._duration.observe(seconds)


class Observed:
    """The ASGI `send` of one request, noting the status it answers with and when it ends."""

    __slots__ = ("_send", "_route", "_start", "_status", "_counted")

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]], route: RouteMetrics) -> None:
        self._send = send
        self._route = route
        self._start = time.perf_counter()
        self._status = 0
        self._counted = False

    async def __call__(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start" or kind == "websocket.http.response.start":
            self._status = message["status"]
        elif kind == "http.response.body":
            if not message.get("more_body", False) and not self._counted:
                self._counted = True
                self._route.done(self._status, time.perf_counter() - self._start)
        elif kind == "websocket.accept":
            self._count(101)
        elif kind == "websocket.http.response.body":
            if not message.get("more_body", False):
                self._count(self._status)
        elif kind == "websocket.close":
            self._count(403)  # closed before accepting: the server denies the handshake with a 403
        await self._send(message)

    def _count(self, status: int) -> None:
        if not self._counted:
            self._counted = True
            self._route.done(status, None)


class QueueDepth(Collector):
    """`berth_queue_depth`: requests waiting for a slot in this edge's pools, when scraped."""

    def __init__(self) -> None:
        self._pools: Mapping[str, PoolSlots] = {}

    def watch(self, pools: Mapping[str, PoolSlots]) -> None:
        self._pools = pools

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "berth_queue_depth",
            "Requests waiting at this edge for a container slot",
            labels=["app", "function"],
        )
        waiting: dict[tuple[str, str], int] = {}
        for slots in list(self._pools.values()):
            key = (slots.key.app, slots.key.function)
            waiting[key] = waiting.get(key, 0) + slots._waiting()  # read-only peek at the queue
        for (app, function), count in sorted(waiting.items()):
            family.add_metric([app, function], count)
        yield family


class EdgeMetrics:
    """The edge's registry, the per-request hook and the `/metrics` page."""

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        token_check: TokenCheck | None = None,
        scheduler_series: SchedulerSeries | None = None,
        token_failures: RateLimiter | None = None,
    ) -> None:
        self.registry = registry
        self._requests = Counter(
            "berth_requests",
            "Requests to a function, by the class of the response's status",
            ["app", "function", "status_class"],
            registry=registry,
        )
        self._duration = Histogram(
            "berth_request_duration_seconds",
            "Time from routing a request to the end of its response, queueing and cold starts included",
            ["app", "function"],
            buckets=DURATION_BUCKETS,
            registry=registry,
        )
        self._queue = QueueDepth()
        registry.register(self._queue)
        self._routes: dict[str, dict[str, RouteMetrics]] = {}
        self._token_check = token_check
        self._scheduler_series = scheduler_series
        self._token_failures = token_failures or RateLimiter(
            TOKEN_FAILURE_RATE, burst_seconds=TOKEN_FAILURE_BURST / TOKEN_FAILURE_RATE
        )

    def watch(self, pools: Mapping[str, PoolSlots]) -> None:
        """The edge's pools, read for berth_queue_depth at each scrape."""
        self._queue.watch(pools)

    def observe(self, route: state_pb2.Route, send: Any) -> Observed:
        """`send` for a request routed to `route`, counting it and timing it as it is answered."""
        functions = self._routes.get(route.app)
        if functions is None:
            functions = self._routes[route.app] = {}
        children = functions.get(route.function)
        if children is None:
            children = functions[route.function] = RouteMetrics(
                self._requests, self._duration, route.app, route.function
            )
        return Observed(send, children)

    async def page(self, scope: Mapping[str, Any], send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        """Answers `GET /metrics` on the edge's own name: 200 to loopback or a valid token, 429 to an
        address past its failed token checks, else 404."""
        wait = self.token_wait(scope)
        if wait > 0:
            body = b"too many failed /metrics token checks from this address; retry later\n"
            extra = [(b"retry-after", retry_after(wait).encode())]
            await _plain(send, 429, body, b"text/plain; charset=utf-8", extra)
            return
        if not await self.allowed(scope):
            await _plain(send, 404, NOT_HERE.encode() + b"\n", b"text/plain; charset=utf-8")
            return
        body = metrics.exposition(self.registry)
        if self._scheduler_series is not None:
            body += await self._scheduler_series()
        await _plain(send, 200, body, metrics.CONTENT_TYPE.encode())

    async def allowed(self, scope: Mapping[str, Any]) -> bool:
        if is_loopback(scope):
            return True
        token = bearer(scope.get("headers", ()))
        # Only what could be a token costs the scheduler a look-up.
        if not token.startswith(auth.TOKEN_PREFIX) or self._token_check is None:
            return False
        if await self._token_check(token):
            return True
        self._token_failures.take(_peer(scope))
        return False

    def token_wait(self, scope: Mapping[str, Any], *, loopback_too: bool = False) -> float:
        """Seconds before this far client's next token may be checked (0.0: now). `loopback_too`:
        for /__berth/call (call_api.py), where a loopback client needs a token like any other."""
        if (is_loopback(scope) and not loopback_too) or not bearer(scope.get("headers", ())):
            return 0.0
        return self._token_failures.waiting(_peer(scope))

    def token_failed(self, scope: Mapping[str, Any]) -> None:
        """A token this client sent on another path (/__berth/call) was not valid: it counts
        against the same budget as its /metrics guesses."""
        self._token_failures.take(_peer(scope))


def _peer(scope: Mapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else ""


def is_loopback(scope: Mapping[str, Any]) -> bool:
    """Whether the request's TCP peer is on this host (127.0.0.0/8, ::1, or IPv4-mapped 127.x)."""
    client = scope.get("client")
    if not client:
        return False
    try:
        address = ipaddress.ip_address(client[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def bearer(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The token of an `Authorization: Bearer …` header, "" if none."""
    for name, value in headers:
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].strip().decode("latin-1")
    return ""


class SchedulerLink:
    """What /metrics asks the scheduler over the bus: a token's verdict and its series."""

    def __init__(
        self,
        nc: Client,
        *,
        ttl: float = auth.VERIFIED_TTL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._nc = nc
        self._ttl = ttl
        self._clock = clock
        # SHA-256 of a token -> when the scheduler last said yes; a revoked token stops within ttl.
        self._verified_at: dict[str, float] = {}

    async def check_token(self, token: str) -> bool:
        key = auth.token_id(token)
        now = self._clock()
        at = self._verified_at.get(key)
        if at is not None and now - at < self._ttl:
            return True
        try:
            verdict = await bus.request(
                self._nc,
                subjects.SCHED_TOKEN_CHECK,
                bus_pb2.TokenCheck(token=token),
                bus_pb2.TokenVerdict,
                timeout=SCHEDULER_TIMEOUT,
            )
        except Exception as exc:  # noqa: BLE001 - no verdict is a no: the page stays hidden
            log.warning("cannot check a /metrics token with the scheduler: %s", exc)
            return False
        for stale in [k for k, t in self._verified_at.items() if now - t >= self._ttl]:
            del self._verified_at[stale]
        if verdict.valid:
            self._verified_at[key] = now
        return verdict.valid

    async def series(self) -> bytes:
        try:
            snapshot = await bus.request(
                self._nc,
                subjects.SCHED_METRICS,
                bus_pb2.Empty(),
                bus_pb2.MetricsSnapshot,
                timeout=SCHEDULER_TIMEOUT,
            )
        except Exception as exc:  # noqa: BLE001 - the edge's own series are still worth serving
            log.warning("cannot fetch the scheduler's metrics: %s", exc)
            return b"# the scheduler's series are missing: it did not answer\n"
        return snapshot.text


async def _plain(
    send: Callable[[dict[str, Any]], Awaitable[None]],
    status: int,
    body: bytes,
    ctype: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
