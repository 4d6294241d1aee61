"""The first steps of the edge's request chain, before any bus traffic: the Host header, the rate
limit and the route lookup, each answered with one plain line."""

from __future__ import annotations

from typing import Any

from berth.v1 import state_pb2
from services.edge.app import NO_ROUTES, Edge
from services.edge.ratelimit import RateLimiter
from services.edge.routing import RoutesUnavailable


class Routes:
    """A route table with nothing in it; `broken` makes every bucket read fail."""

    def __init__(self, *, broken: bool = False) -> None:
        self.broken = broken
        self.fetched: list[str] = []

    def resolve(self, label: str) -> state_pb2.Route | None:
        return None

    async def fetch(self, label: str) -> state_pb2.Route | None:
        self.fetched.append(label)
        if self.broken:
            raise RoutesUnavailable("the routes bucket could not be read: TimeoutError")
        return None


async def call(edge: Edge, *hosts: bytes, path: str = "/") -> tuple[int, dict[bytes, bytes], str]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": [(b"host", h) for h in hosts]}
    await edge(scope, None, send)
    return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"].decode()


def edge(routes: Routes, limiter: RateLimiter | None = None) -> Edge:
    return Edge(None, "e1", routes, None, rate_limit=limiter)  # type: ignore[arg-type]


async def test_bad_hosts_are_400_and_impossible_labels_404_without_a_lookup() -> None:
    routes = Routes()
    assert (await call(edge(routes), b"a--b!.localhost"))[0] == 400
    assert (await call(edge(routes), b"a--*.localhost"))[0] == 400
    assert (await call(edge(routes), b"x--app.localhost", b"y--app.localhost"))[0] == 400
    assert (await call(edge(routes)))[0] == 400
    status, _, body = await call(edge(routes), b"--app.localhost:8000")
    assert status == 404 and "no app is deployed at --app.localhost:8000" in body
    assert routes.fetched == []
    assert (await call(edge(routes), b"local--app-f.localhost"))[0] == 404
    assert routes.fetched == ["local--app-f"]


async def test_an_unreadable_routes_bucket_is_a_503_line() -> None:
    status, _, body = await call(edge(Routes(broken=True)), b"local--app-f.localhost")
    assert status == 503 and body == NO_ROUTES + "\n"


async def test_past_the_rate_limit_a_workspace_gets_429_with_retry_after() -> None:
    now = [0.0]
    limiter = RateLimiter(1, clock=lambda: now[0])  # a burst of 5
    e = edge(Routes(), limiter)
    assert [(await call(e, b"ws--app-f.localhost"))[0] for _ in range(5)] == [404] * 5
    status, headers, body = await call(e, b"ws--app-f.localhost")
    assert status == 429 and headers[b"retry-after"] == b"1" and "rate limit" in body
    assert (await call(e, b"other--app-f.localhost"))[0] == 404  # its own bucket
    assert (await call(e, b"localhost", path="/healthz"))[0] == 503  # not counted ("starting")
    now[0] += 1.0
    assert (await call(e, b"ws--app-f.localhost"))[0] == 404
