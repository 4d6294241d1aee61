"""Access lines: one per request that names an app, with the id the container and failures see,
batched per app into bus messages that readers unbatch."""

from __future__ import annotations

import asyncio
from typing import Any

from berth.v1 import control_pb2, state_pb2
from services.common import loglines, subjects
from services.edge import access, failures
from services.edge.log_batches import LogBatcher


class Bus:
    is_closed = False

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.flushed = 0

    async def publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> None:
        assert headers == loglines.BATCH_HEADERS
        self.published.append((subject, data))

    async def flush(self, timeout: float) -> None:
        self.flushed += 1

    def lines(self) -> list[control_pb2.LogLine]:
        return [line for _, data in self.published for line in loglines.decode(data, loglines.BATCH_HEADERS)]


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

    async def main() -> None:
        log = access.AccessLog(bus, "edge-1")  # type: ignore[arg-type]
        await log.serve(app, s, receive, send)
        await log.close()  # the edge's stop publishes what waits

    asyncio.run(main())
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
    ((subject, _),) = bus.published
    assert subject == subjects.app_logs(ROUTE.app)
    (line,) = bus.lines()
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
    (line,) = bus.lines()
    assert (line.access.status, line.container_id, line.params) == (401, "edge-1", "")


def test_an_app_that_raises_still_gets_its_line_without_a_status() -> None:
    async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
        access.routed(s, ROUTE)
        raise ConnectionError("client gone")

    bus = Bus()

    async def main() -> None:
        log = access.AccessLog(bus, "e")  # type: ignore[arg-type]
        try:
            await log.serve(app, scope(), None, None)
        except ConnectionError:
            pass
        await log.close()

    asyncio.run(main())
    assert [line.access.status for line in bus.lines()] == [0]


def test_websocket_accept_is_101() -> None:
    async def app(s: dict[str, Any], receive: Any, send: Any) -> None:
        access.routed(s, ROUTE)
        await send({"type": "websocket.accept"})

    bus, _ = run(app, scope(type="websocket"))
    (line,) = bus.lines()
    assert (line.access.method, line.access.status) == ("WS", 101)


def test_outside_a_request_failures_make_their_own_id() -> None:
    assert access.current_request_id() == ""
    assert len(failures.request_id()) == 16


async def _ok(s: dict[str, Any], receive: Any, send: Any) -> None:
    access.routed(s, ROUTE)
    await send({"type": "http.response.start", "status": 200, "headers": []})


async def _until(condition: Any, what: str) -> None:
    """Lets the flusher task run until `condition()`; bounded, not timed."""
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError(f"never: {what}")


def test_requests_lines_go_out_as_one_message_in_order_without_waiting_for_stop() -> None:
    bus = Bus()

    async def main() -> None:
        log = access.AccessLog(bus, "e", batcher=LogBatcher(max_lines=3, max_delay=3600))  # type: ignore[arg-type]
        for n in range(3):
            await log.serve(_ok, scope(path=f"/{n}"), None, _sink)
        # The third line fills the batch: it goes out now, not after the hour.
        await _until(lambda: bus.published, "the full batch published")
        assert [line.access.path for line in bus.lines()] == ["/0", "/1", "/2"]
        assert len(bus.published) == 1
        await log.serve(_ok, scope(path="/3"), None, _sink)
        await log.close()
        assert [line.access.path for line in bus.lines()] == ["/0", "/1", "/2", "/3"]
        assert bus.flushed == 1

    asyncio.run(main())


def test_a_batch_goes_out_once_its_delay_has_passed() -> None:
    bus = Bus()
    now = [100.0]

    async def main() -> None:
        batcher = LogBatcher(max_lines=100, max_delay=0.0)
        log = access.AccessLog(bus, "e", batcher=batcher, clock=lambda: now[0])  # type: ignore[arg-type]
        await log.serve(_ok, scope(), None, _sink)
        await _until(lambda: bus.published, "the batch published at its deadline")
        assert len(bus.lines()) == 1

    asyncio.run(main())


def test_a_bus_that_takes_nothing_costs_bounded_memory_and_drops_are_counted() -> None:
    class Stuck(Bus):
        async def publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> None:
            await asyncio.Event().wait()  # never returns, as a bus that stopped reading

    bus = Stuck()

    async def main() -> None:
        size = access.line(_finished(), scope(), "e", 0.0).ByteSize() + 6
        batcher = LogBatcher(max_lines=1, max_delay=0.0, max_pending_bytes=10 * size)
        log = access.AccessLog(bus, "e", batcher=batcher)  # type: ignore[arg-type]
        for _ in range(50):
            await log.serve(_ok, scope(), None, _sink)
        assert log.dropped > 0
        assert batcher.pending_bytes <= 10 * size
        # (asyncio.run cancels the flusher, stuck in publish, on the way out.)

    asyncio.run(main())


def _finished() -> access.Entry:
    return access.Entry(access.new_request_id(), 0.0, route=ROUTE, status=200)


async def _sink(message: dict[str, Any]) -> None:
    pass
