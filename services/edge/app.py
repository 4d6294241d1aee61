"""The edge's ASGI application: a chain of small steps from a Host header to a container slot."""

from __future__ import annotations

import functools
import logging
from typing import Any

from nats.aio.client import Client

from berth.v1 import bus_pb2, control_pb2
from services.common import bus, logs, subjects, tracing
from services.common.pools import ParameterError, canonical_params, pool_id
from services.edge import hosts
from services.edge.failures import Failure, Failures, plain
from services.edge.leases import Lease, PoolFailed, PoolSlots
from services.edge.proxy import relay_http
from services.edge.proxy_auth import ProxyAuth
from services.edge.ratelimit import RateLimiter, retry_after
from services.edge.relay import Relay
from services.edge.routing import RoutesUnavailable, RouteTable
from services.edge.websocket import relay_websocket

log = logging.getLogger("berth.edge")

DEMAND_TIMEOUT = 5.0
# How long a request may wait for a container slot (cold starts and queueing at max_containers),
# on top of nothing else: the function's own timeout starts once it runs.
QUEUE_TIMEOUT = 300.0
NO_ROUTES = "the platform cannot look up apps right now; try again shortly"


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
    ) -> None:
        self._nc = nc
        self.edge_id = edge_id
        self._routes = routes
        self._relay = relay
        self._proxy_auth = proxy_auth
        self._rate_limit = rate_limit
        self._failures = Failures(nc, edge_id)
        self._pools: dict[str, PoolSlots] = {}
        self._tracer = tracing.setup("edge")
        self.ready = False

    # -- control messages from the scheduler ---------------------------------------------------

    async def on_control(self, data: bytes) -> None:
        message = bus_pb2.EdgeControl.FromString(data)
        kind = message.WhichOneof("kind")
        if kind == "grant":
            self._slots(message.grant.pool).grant(message.grant)
        elif kind == "revoke":
            cid = message.revoke.container_id
            holders = [p for p in self._pools.values() if cid in p.leases]
            if holders:
                for pool in holders:
                    pool.revoke(cid)
                    if pool.unused():
                        # Old versions' pools would otherwise pile up over many deploys.
                        self._pools.pop(pool_id(pool.key), None)
            else:
                await self._released(cid)
        elif kind == "failure":
            failure = message.failure
            self._slots(failure.pool).fail(failure.status, failure.message)

    def _slots(self, key: bus_pb2.PoolKey) -> PoolSlots:
        pid = pool_id(key)
        slots = self._pools.get(pid)
        if slots is None:
            slots = self._pools[pid] = PoolSlots(key, self._demand, self._released)
        return slots

    async def _demand(self, key: bus_pb2.PoolKey, waiting: int, inflight: int) -> None:
        demand = bus_pb2.Demand(edge_id=self.edge_id, pool=key, waiting=waiting, inflight=inflight)
        await bus.request(self._nc, subjects.SCHED_DEMAND, demand, bus_pb2.Empty, timeout=DEMAND_TIMEOUT)

    async def _released(self, container_id: str) -> None:
        released = bus_pb2.LeaseReleased(edge_id=self.edge_id, container_id=container_id)
        await bus.publish(self._nc, subjects.SCHED_RELEASED, released)

    # -- requests ------------------------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        websocket = scope["type"] == "websocket"
        try:
            host = hosts.request_host(scope["headers"])
        except hosts.BadHost as exc:
            await self._refuse(send, websocket, 400, str(exc))
            return
        if not host.is_app:
            await self._platform(scope, send, websocket)
            return
        if not host.possible:  # no deploy can make this label: nothing to look up
            await self._refuse(send, websocket, 404, _no_app(host.text))
            return
        limiter = self._rate_limit
        if limiter is not None:
            wait = limiter.take(host.workspace)
            if wait:
                await _too_many(send, websocket, limiter, host.workspace, wait)
                return
        try:
            route = self._routes.resolve(host.label) or await self._routes.fetch(host.label)
        except RoutesUnavailable:
            await self._refuse(send, websocket, 503, NO_ROUTES)
            return
        if route is None:
            await self._refuse(send, websocket, 404, _no_app(host.text))
            return
        if route.requires_proxy_auth:
            # Before any demand or lease: a refused request never boots a container.
            checker = self._proxy_auth
            denial = await checker.check(scope, route) if checker else "this edge cannot check proxy auth"
            if denial:
                await self._refuse(send, websocket, 401, denial)
                return
        with self._tracer.start_as_current_span(
            "edge.request",
            attributes={"http.method": scope.get("method", ""), "berth.function": route.function},
        ):
            try:
                params = canonical_params(route.parameters, scope.get("query_string", b""))
            except ParameterError as exc:
                await self._refuse(send, websocket, 400, str(exc))
                return
            key = bus_pb2.PoolKey(
                app=route.app, function=route.function, version=route.version, params=params
            )
            try:
                slots, lease = await self._acquire(host.text, key)
            except PoolFailed as exc:
                await self._failures.answer(send, route, Failure(exc.status, str(exc)), websocket=websocket)
                return
            except TimeoutError:
                failure = Failure(503, f"no container became free within {QUEUE_TIMEOUT:.0f}s")
                await self._failures.answer(send, route, failure, websocket=websocket)
                return
            except RoutesUnavailable:
                await self._refuse(send, websocket, 503, NO_ROUTES)
                return
            try:
                if websocket:
                    describe = functools.partial(self._describe, route)
                    await relay_websocket(scope, receive, send, self._relay, lease, describe=describe)
                    return
                failed = await relay_http(scope, receive, send, self._relay, lease, route.timeout or 300.0)
            finally:
                slots.release(lease)
            if failed is not None:
                await self._failures.answer(send, route, failed)

    async def _describe(self, route: control_pb2.Route, failure: Failure) -> str:
        return (await self._failures.public(route, failure))[0]

    @staticmethod
    async def _refuse(send: Any, websocket: bool, status: int, text: str) -> None:
        """An HTTP error; for a WebSocket handshake, the same status as a denial response where the
        server supports it (uvicorn does), so clients see why rather than a bare 403."""
        await plain(send, status, text, kind="websocket.http.response" if websocket else "http.response")

    async def _acquire(self, host: str, key: bus_pb2.PoolKey) -> tuple[PoolSlots, Lease]:
        slots = self._slots(key)
        try:
            return slots, await slots.acquire(QUEUE_TIMEOUT)
        except PoolFailed as exc:
            # 404: the scheduler no longer has this version. Either the app was stopped, or the
            # edge's copy of the route lagged a redeploy: re-read it and try the new version once.
            if exc.status != 404:
                raise
            fresh = await self._routes.fetch(hosts.parse(host).label)
            if fresh is None:
                raise PoolFailed(404, _no_app(host)) from None
            if fresh.version == key.version:
                raise
        key = bus_pb2.PoolKey(app=key.app, function=key.function, version=fresh.version, params=key.params)
        slots = self._slots(key)
        return slots, await slots.acquire(QUEUE_TIMEOUT)

    async def _platform(self, scope: dict[str, Any], send: Any, websocket: bool) -> None:
        if websocket:
            await self._refuse(send, websocket, 404, "the Berth edge takes WebSockets only for apps")
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
