"""Batched access lines through a real nats-server: the edge's AccessLog publishes LogBatch
messages (as the edge identity), the scheduler's reader unbatches them among plain lines, in
order, with `--tail`, `--since`, `--function`, follow, and the retention cap counted in lines.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from nats.aio.client import Client

from berth.v1 import control_pb2, state_pb2
from services.common import bus, credentials, provision, subjects
from services.edge import access
from services.edge.log_batches import LogBatcher
from services.launcher.driver import stop_process
from services.scheduler import logstream
from tests.e2e.conftest import start_nats

APP = subjects.app_key("batched", False)
ROUTE = state_pb2.Route(host_label="local--batched-f", app=APP, function="f")
READ_TIMEOUT = 30.0


async def _request(log: access.AccessLog, path: str) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        access.routed(scope, ROUTE)
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def sink(message: dict[str, Any]) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": path, "headers": []}
    await log.serve(app, scope, None, sink)


async def _print(nc: Client, text: str, time_ms: int, function: str = "f") -> None:
    """A container's line as an agent publishes it: one plain LogLine per message (acknowledged
    here, so it is stored before anything the test publishes next)."""
    line = control_pb2.LogLine(time_ms=time_ms, app=APP, function=function, stream="stdout", text=text)
    await nc.jetstream().publish(subjects.app_logs(APP), line.SerializeToString())


async def _stored(nc: Client, messages: int) -> None:
    """Until the stream holds `messages` messages: the edge's publishes are not acknowledged."""
    js = nc.jetstream()
    for _ in range(int(READ_TIMEOUT / 0.05)):
        if (await js.stream_info(subjects.LOG_STREAM)).state.messages >= messages:
            return
        await asyncio.sleep(0.05)  # polling the stream's own count, under a bound
    raise AssertionError(f"the stream never held {messages} messages")


def _texts(lines: list[control_pb2.LogLine]) -> list[str]:
    return [line.access.path if line.stream == "access" else line.text for line in lines]


async def _read(nc: Client, **kwargs: Any) -> list[control_pb2.LogLine]:
    where = logstream.Filter(**kwargs)
    return [line async for line in logstream.read(nc.jetstream(), APP, follow=False, where=where)]


async def _next(lines: AsyncIterator[control_pb2.LogLine]) -> control_pb2.LogLine:
    return await asyncio.wait_for(anext(lines), READ_TIMEOUT)


async def _connect(url: str, seeds: Path, identity: str) -> Client:
    return await bus.connect(url, f"test-{identity}", seed_file=str(credentials.seed_file(seeds, identity)))


async def _scenario(url: str, seeds: Path) -> None:
    admin = await _connect(url, seeds, credentials.ADMIN)
    edge = await _connect(url, seeds, credentials.EDGE)
    try:
        await provision.ensure_state(admin.jetstream())
        # Batches that wait an hour: only a full batch or the edge's stop sends them.
        log = access.AccessLog(edge, "edge-1", batcher=LogBatcher(max_lines=3, max_delay=3600))
        await _print(admin, "one", 1)
        for n in range(3):
            await _request(log, f"/a{n}")  # a full batch: one message of three lines
        await _stored(admin, 2)
        await _print(admin, "two", 2**62, function="g")
        await _request(log, "/b0")
        await _request(log, "/b1")
        await log.close()  # the edge's stop: the last two lines are not lost
        await _stored(admin, 4)

        everything = await _read(admin)
        assert _texts(everything) == ["one", "/a0", "/a1", "/a2", "two", "/b0", "/b1"]
        assert {line.stream for line in everything[1:4]} == {"access"}
        ids = [line.request_id for line in everything if line.stream == "access"]
        assert len(set(ids)) == 5
        # --tail counts lines, not messages; --function and --since see each line.
        assert _texts(await _read(admin, tail=2)) == ["/b0", "/b1"]
        assert _texts(await _read(admin, tail=4)) == ["/a2", "two", "/b0", "/b1"]
        assert _texts(await _read(admin, function="g")) == ["two"]
        assert _texts(await _read(admin, function="f", tail=3)) == ["/a2", "/b0", "/b1"]
        assert _texts(await _read(admin, since_ms=2**62)) == ["two"]

        # Follow: history, then a batch published later arrives unbatched, in order.
        follow = logstream.read(admin.jetstream(), APP, follow=True, where=logstream.Filter(tail=1))
        assert _texts([await _next(follow)]) == ["/b1"]
        later = access.AccessLog(edge, "edge-1", batcher=LogBatcher(max_lines=2, max_delay=3600))
        await _request(later, "/c0")
        await _request(later, "/c1")  # a full batch: published without a stop
        assert _texts([await _next(follow), await _next(follow)]) == ["/c0", "/c1"]
        await follow.aclose()
        await later.close()
    finally:
        await edge.close()
        await admin.close()


async def _capped(url: str, seeds: Path) -> None:
    admin = await _connect(url, seeds, credentials.ADMIN)
    try:
        await provision.ensure_state(admin.jetstream())
        log = access.AccessLog(admin, "edge-1", batcher=LogBatcher(max_lines=4, max_delay=3600))
        for n in range(8):
            await _request(log, f"/{n}")
        await log.close()
        await _stored(admin, 2)
        await _print(admin, "last", 10)
        # Three messages, nine lines, a cap of 5 lines: the reader shows the newest 5.
        assert _texts(await _read(admin)) == ["/4", "/5", "/6", "/7", "last"]
        assert _texts(await _read(admin, tail=2)) == ["/7", "last"]
        assert _texts(await _read(admin, function="f", tail=9)) == ["/4", "/5", "/6", "/7", "last"]
    finally:
        await admin.close()


def test_batched_access_lines_read_back_as_lines(tmp_path: Path) -> None:
    url, server = start_nats(tmp_path)
    try:
        asyncio.run(_scenario(url, tmp_path))
    finally:
        stop_process(server)


def test_the_retention_cap_counts_lines_not_batches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_LOG_MAX_LINES_PER_APP", "5")
    url, server = start_nats(tmp_path)
    try:
        asyncio.run(_capped(url, tmp_path))
    finally:
        stop_process(server)
