"""The edge's ASGI application: a chain of small steps from a Host header to a container slot."""

from __future__ import annotations

import contextlib
import functools
import logging
from typing import Any

from nats.aio.client import Client
from nats.errors import NoRespondersError

from berth._spec_rules import DEFAULT_TIMEOUT
from berth.v1 import bus_pb2, state_pb2
from services.common import bus, logs, subjects, tracing
from services.common.pools import ParameterError, pool_id
from services.edge import access, hosts
from services.edge.call_api import CALL_PATH, CONTAINER_CALLS_OWN_APP, CallApi, Caller
from services.edge.dashboard import Dashboard, mounted
from services.edge.failures import Failure, Failures, plain
from services.edge.leases import Lease, PoolFailed, PoolSlots, SchedulerAway, acquire_current
from services.edge.metrics import EdgeMetrics, TokenCheck
from services.edge.params import parameter_set, retry_later
from services.edge.proxy import Unreached, relay_http, replaying
from services.edge.proxy_auth import ProxyAuth
from services.edge.ratelimit import RateLimiter, retry_after
from services.edge.redirects import Redirects
from services.edge.relay import Relay
from services.edge.routing import RoutesUnavailable, RouteTable
from services.edge.token_cache import TokenCache
from services.edge.websocket import relay_websocket

log = logging.getLogger("berth.edge")

DEMAND_TIMEOUT = 5.0
# How long a request may wait for a container slot (cold starts and queueing at max_containers),
# on top of nothing else: the function's own timeout starts once it runs.
QUEUE_TIMEOUT = 300.0
NO_ROUTES = "the platform cannot look up apps right now; try again shortly"
CONTAINER_LOST = "the container was lost: its agent restarted or stopped answering while the request ran"


class Edge:
    def __init__(
        self,
        nc: Client,
        edge_id: str,
        routes: RouteTable,
        relay: Relay,
        *,
        proxy_auth: ProxyAuth | None = None,
        rate_limit: RateLimiter | None = None,
        redirects: Redirects | None = None,
        metrics: EdgeMetrics | None = None,
        dashboard: Dashboard | None = None,
        token_check: TokenCheck | None = None,
        container_calls: str = CONTAINER_CALLS_OWN_APP,
    ) -> None:
        self._nc = nc
        self.edge_id = edge_id
        self._routes = routes
        self._relay = relay
        self._proxy_auth = proxy_auth
        self._rate_limit = rate_limit
        self._redirects = redirects
        self._metrics = metrics
        self._dashboard = dashboard  # /dashboard/ on the bare host (services/edge/dashboard/)
        self._failures = Failures(nc, edge_id)
        self.access_log = access.AccessLog(nc, edge_id)  # closed by main.py at stop: lines flushed
        self._pools: dict[str, PoolSlots] = {}
        if metrics is not None:
            metrics.watch(self._pools)  # berth_queue_depth, read when scraped
        self._tracer = tracing.setup("edge")
        self.ready = False
        # Function calls on the bare host (call_api.py), over HTTP or from containers (call_ingress.py).
        self.calls = CallApi(
            routes=routes, relay=relay, slots=self._slots, failures=self._failures,
            queue_timeout=QUEUE_TIMEOUT, tokens=TokenCache(token_check) if token_check else None,
            redirects=redirects, rate_limit=rate_limit, metrics=metrics, nc=nc,
            container_calls=container_calls,
        )  # fmt: skip

    # -- control messages from the scheduler ---------------------------------------------------

    async def on_control(self, data: bytes) -> None:
        message = bus_pb2.EdgeControl.FromString(data)
        kind = message.WhichOneof("kind")
        if kind == "grant":
            self._slots(message.grant.pool).grant(message.grant)
        elif kind == "revoke":
            cid = message.revoke.container_id
            holders = [p for p in self._pools.values() if cid in p.leases]
            if message.revoke.lost:
                # Its agent restarted without it, or died: what is in flight there will never be
                # answered. Matched by container id rather than through the lease: a request that
                # found the agent gone has dropped the lease already, while others still wait.
                for stream in list(self._relay.streams.values()):
                    if stream.subject.rsplit(".", 1)[-1] == cid:
                        stream.fail(502, CONTAINER_LOST)
            if holders:
                for pool in holders:
                    pool.revoke(cid)
                    if pool.unused():
                        # Old versions' pools would otherwise pile up over many deploys.
                        self._pools.pop(pool_id(pool.key), None)
            elif not message.revoke.lost:
                # (A lost container's revoke may reach every edge: only a holder answers.)
                await self._released(cid)
        elif kind == "failure":
            failure = message.failure
            self._slots(failure.pool).fail(failure.status, failure.message, retry_after=failure.retry_after)

    def _slots(self, key: bus_pb2.PoolKey) -> PoolSlots:
        pid = pool_id(key)
        slots = self._pools.get(pid)
        if slots is None:
            slots = self._pools[pid] = PoolSlots(key, self._demand, self._released, on_unused=self._forget)
        return slots

    def _forget(self, slots: PoolSlots) -> None:
        """A pool with no lease and no waiter left here: the edge keeps no state for it."""
        pid = pool_id(slots.key)
        if self._pools.get(pid) is slots:
            del self._pools[pid]

    async def _demand(self, key: bus_pb2.PoolKey, waiting: int, inflight: int) -> None:
        demand = bus_pb2.Demand(edge_id=self.edge_id, pool=key, waiting=waiting, inflight=inflight)
        try:
            await bus.request(self._nc, subjects.SCHED_DEMAND, demand, bus_pb2.Empty, timeout=DEMAND_TIMEOUT)
        except NoRespondersError:
            # The bus is up and no scheduler listens: one is restarting, so the waiters hold on.
            raise SchedulerAway("no scheduler is listening (restarting?)") from None

    async def _released(self, container_id: str) -> None:
        released = bus_pb2.LeaseReleased(edge_id=self.edge_id, container_id=container_id)
        await bus.publish(self._nc, subjects.SCHED_RELEASED, released)

    # -- requests ------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Every request gets an id and, once it names an app, an access line (access.py).
        await self.access_log.serve(self._handle, scope, receive, send)

    async def _handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        websocket = scope["type"] == "websocket"
        try:
            host = hosts.request_host(scope["headers"])
        except hosts.BadHost as exc:
            await self._refuse(send, websocket, 400, str(exc))
            return
        if not host.key:  # neither an app label nor a name a custom domain could have
            await self._platform(scope, receive, send, websocket)
            return
        if not host.possible:  # no deploy can make this label: nothing to look up
            await self._refuse(send, websocket, 404, _no_app(host.text))
            return
        route: state_pb2.Route | None = None
        if not host.is_app:
            # A custom domain's route, else the edge's own name. That must answer /healthz while
            # JetStream is away (warm traffic still flows), so an unreadable bucket is no route here.
            with contextlib.suppress(RoutesUnavailable):
                route = await self._routes.lookup(host.key)
            if route is None:
                await self._platform(scope, receive, send, websocket)
                return
        # An app label names its workspace, so it is limited before any lookup; a domain, by its route's.
        workspace = route.workspace if route is not None else host.workspace
        limiter = self._rate_limit
        if limiter is not None:
            wait = limiter.take(workspace)
            if wait:
                await _too_many(send, websocket, limiter, workspace, wait)
                return
        try:
            route = route or self._routes.resolve(host.key) or await self._routes.fetch(host.key)
        except RoutesUnavailable:
            await self._refuse(send, websocket, 503, NO_ROUTES)
            return
        if route is None:
            await self._refuse(send, websocket, 404, _no_app(host.text))
            return
        access.routed(scope, route)
        if self._metrics is not None:  # counts and times the request as it is answered (metrics.py)
            send = self._metrics.observe(route, send)
        if route.requires_proxy_auth:
            # Before any demand or lease: a refused request never boots a container.
            checker = self._proxy_auth
            denial = await checker.check(scope, route) if checker else "this edge cannot check proxy auth"
            if denial:
                await self._refuse(send, websocket, 401, denial)
                return
        if self._redirects is not None and not websocket:
            # Requests past the redirect limit (150 s) are answered 303; following one names the
            # call and is answered here, without a container (services/edge/redirects.py).
            if self._redirects.is_follow_up(scope):
                await self._redirects.follow(route, scope, send)
                return
            held = self._redirects.hold(route, scope, receive, send)
            if held is not None:
                receive, send = held.receive, held.send
        with self._tracer.start_as_current_span(
            "edge.request",
            attributes={"http.method": scope.get("method", ""), "berth.function": route.function},
        ):
            try:
                params = parameter_set(route.parameters, scope.get("query_string", b""))
            except ParameterError as exc:
                await self._refuse(send, websocket, 400, str(exc))
                return
            key = bus_pb2.PoolKey(
                app=route.app, function=route.function, version=route.version, params=params
            )
            try:
                slots, lease = await self._acquire(host.text, key)
            except PoolFailed as exc:
                if exc.retry_after:  # e.g. 429, too many distinct parameter sets
                    await retry_later(send, exc, websocket=websocket)
                    return
                await self._failures.answer(send, route, Failure(exc.status, str(exc)), websocket=websocket)
                return
            except TimeoutError:
                failure = Failure(503, f"no container became free within {QUEUE_TIMEOUT:.0f}s")
                await self._failures.answer(send, route, failure, websocket=websocket)
                return
            except RoutesUnavailable:
                await self._refuse(send, websocket, 503, NO_ROUTES)
                return
            access.leased(scope, key.params, lease.container_id)
            try:
                if websocket:
                    describe = functools.partial(self._describe, route)
                    await relay_websocket(scope, receive, send, self._relay, lease, describe=describe)
                    return
                failed = await relay_http(
                    scope, receive, send, self._relay, lease, route.timeout or DEFAULT_TIMEOUT
                )
                if isinstance(failed, Unreached):
                    slots.drop(lease.container_id)  # before release: no waiter may get its slot
            finally:
                slots.release(lease)
            if isinstance(failed, Unreached) and failed.first is not None:
                again = replaying(failed.first, receive)
                failed = await self._resend(host.text, key, route, scope, again, send)
            if failed is not None:
                await self._failures.answer(send, route, failed)

    async def _resend(
        self, host: str, key: bus_pb2.PoolKey, route: state_pb2.Route, scope: Any, receive: Any, send: Any
    ) -> Failure | None:
        """Sends a request that reached no app code (its container's agent restarted) once more,
        on whatever container the edge is leased next; the scheduler replaces the lost one."""
        try:
            slots, lease = await self._acquire(host, key)
        except PoolFailed as exc:
            return Failure(exc.status, str(exc))
        except TimeoutError:
            return Failure(503, f"no container became free within {QUEUE_TIMEOUT:.0f}s")
        access.leased(scope, key.params, lease.container_id)
        try:
            failed = await relay_http(
                scope, receive, send, self._relay, lease, route.timeout or DEFAULT_TIMEOUT
            )
            if isinstance(failed, Unreached):
                slots.drop(lease.container_id)
        finally:
            slots.release(lease)
        return failed

    async def call_from_container(
        self, scope: dict[str, Any], receive: Any, send: Any, caller: Caller
    ) -> None:
        """A call a container made, relayed by its agent (call_ingress.py): no token, its own app
        unless the edge allows any (call_api.py)."""
        await self.access_log.serve(functools.partial(self.calls.serve, caller=caller), scope, receive, send)

    async def _describe(self, route: state_pb2.Route, failure: Failure) -> str:
        return (await self._failures.public(route, failure))[0]

    @staticmethod
    async def _refuse(send: Any, websocket: bool, status: int, text: str) -> None:
        """An HTTP error; for a WebSocket handshake, the same status as a denial response where the
        server supports it (uvicorn does), so clients see why rather than a bare 403."""
        await plain(send, status, text, kind="websocket.http.response" if websocket else "http.response")

    async def _acquire(self, host: str, key: bus_pb2.PoolKey) -> tuple[PoolSlots, Lease]:
        return await acquire_current(
            self._slots, key, lambda: self._routes.fetch(hosts.parse(host).key), _no_app(host), QUEUE_TIMEOUT
        )

    async def _platform(self, scope: dict[str, Any], receive: Any, send: Any, websocket: bool) -> None:
        if self._dashboard is not None and not websocket and mounted(scope.get("path", "")):
            await self._dashboard(scope, receive, send)  # a login, then API calls with the user's token
            return
        if websocket:
            await self._refuse(send, websocket, 404, "the Berth edge takes WebSockets only for apps")
            return
        if scope.get("path") == CALL_PATH:
            await self.calls.serve(scope, receive, send)
            return
        if scope.get("path") == "/metrics" and self._metrics is not None:
            await self._metrics.page(scope, send)  # loopback or an API token, else a 404
            return
        if scope.get("path") == "/healthz":
            if self.ready:
                await plain(send, 200, "ok")
            else:
                await plain(send, 503, "starting")
            return
        await plain(send, 404, "this is the Berth edge; apps live at {workspace}--{app}-{function}.{domain}")


async def _too_many(send: Any, websocket: bool, limiter: RateLimiter, workspace: str, wait: float) -> None:
    seconds = retry_after(wait)
    text = (
        f"rate limit exceeded: workspace {workspace} may make {limiter.rate:g} requests per second "
        f"(bursts up to {limiter.capacity:g}); retry in {seconds} s"
    )
    kind = "websocket.http.response" if websocket else "http.response"
    await plain(send, 429, text, kind=kind, headers=[(b"retry-after", seconds.encode())])


def _no_app(host: str) -> str:
    return f"no app is deployed at {host or 'this host'}"


__all__ = ["Edge", "logs"]
