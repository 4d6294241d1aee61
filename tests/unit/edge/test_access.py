"""Access lines: one per request that names an app, with the id the container and failures see."""

from __future__ import annotations

import asyncio
from typing import Any

from berth.v1 import control_pb2, state_pb2
from services.common import subjects
from services.edge import access, failures


class Bus:
    is_closed = False

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, data: bytes) -> None:
        self.published.append((subject, data))


ROUTE = state_pb2.Route(host_label="local--shop-f", app=subjects.app_key("shop", False), function="f")


def scope(**extra: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "GET",
        "path": "/items",
        "headers": [(b"host", b"x"), (b"X-Berth-Request-Id", b"forged")],
        **extra,
    }


def run(app: Any, s: dict[str, Any]) -> tuple[Bus, list[dict[str, Any]]]:
    bus = Bus()
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    asyncio.run(access.AccessLog(bus, "edge-1").serve(app, s, receive, send))  # type: ignore[arg-type]
    return bus, sent


def test_one_line_per_routed_request_with_status_container_params_and_id() -> None:
    seen: dict[str, Any] = {}

    async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
        access.routed(s, ROUTE)
        access.leased(s, "size=7", "c9")
        seen["headers"] = s["headers"]
        seen["failure_id"] = failures.request_id()
        await send({"type": "http.response.start", "status": 201, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    bus, sent = run(app, scope())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    ((subject, data),) = bus.published
    assert subject == subjects.app_logs(ROUTE.app)
    line = control_pb2.LogLine.FromString(data)
    assert (line.stream, line.function, line.params, line.container_id) == ("access", "f", "size=7", "c9")
    assert (line.access.method, line.access.path, line.access.status) == ("GET", "/items", 201)
    assert len(line.request_id) == 16 and line.time_ms > 0
    # The container gets the edge's id, never the client's; a failure is filed under the same id.
    ids = [v for k, v in seen["headers"] if k.lower() == access.REQUEST_ID_HEADER]
    assert ids == [line.request_id.encode()]
    assert seen["failure_id"] == line.request_id


def test_a_request_for_no_app_gets_no_line() -> None:
    async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 404, "headers": []})

    bus, _ = run(app, scope())
    assert bus.published == []


def test_a_refused_request_is_logged_with_the_edge_as_container() -> None:
    async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
        access.routed(s, ROUTE)
        await send({"type": "http.response.start", "status": 401, "headers": []})

    bus, _ = run(app, scope())
    line = control_pb2.LogLine.FromString(bus.published[0][1])
    assert (line.access.status, line.container_id, line.params) == (401, "edge-1", "")


def test_an_app_that_raises_still_gets_its_line_without_a_status() -> None:
    async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
        access.routed(s, ROUTE)
        raise ConnectionError("client gone")

    bus = Bus()

    async def main() -> None:
        try:
            await access.AccessLog(bus, "e").serve(app, scope(), None, None)  # type: ignore[arg-type]
        except ConnectionError:
            pass

    asyncio.run(main())
    assert control_pb2.LogLine.FromString(bus.published[0][1]).access.status == 0


def test_websocket_accept_is_101() -> None:
    async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
        access.routed(s, ROUTE)
        await send({"type": "websocket.accept"})

    bus, _ = run(app, scope(type="websocket"))
    line = control_pb2.LogLine.FromString(bus.published[0][1])
    assert (line.access.method, line.access.status) == ("WS", 101)


def test_outside_a_request_failures_make_their_own_id() -> None:
    assert access.current_request_id() == ""
    assert len(failures.request_id()) == 16
