"""The edge's HTTP limits on a real uvicorn server on a port the OS picked, with small limits so
nothing waits long; every wait is bounded and nothing asserts how long a step took."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState

from services.edge.limits import EdgeLimits, LimitedHttpToolsProtocol, protocols

SHORT = EdgeLimits(header_timeout=0.5, keep_alive_timeout=1, max_connections=20, max_connections_per_ip=6)
BOUND = 10.0  # the longest any test waits for something that should happen well before


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the number of body bytes it read; WebSockets are accepted and held open."""
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = str(size).encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def eventually(condition: Callable[[], object]) -> None:
    """Polls `condition` (a server's own state, which offers no event to wait on) up to BOUND."""
    for _ in range(int(BOUND / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not true within {BOUND:g}s")


@contextlib.asynccontextmanager
async def serving(limits: EdgeLimits = SHORT) -> AsyncIterator[int]:
    http, ws = protocols(limits)
    config = uvicorn.Config(
        app,
        http=http,
        ws=ws,
        lifespan="off",
        log_level="critical",
        timeout_keep_alive=limits.keep_alive_timeout,
    )
    server = uvicorn.Server(config)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await eventually(lambda: server.started)
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        server.force_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, BOUND)
        sock.close()


def request(headers: bytes = b"", body: bytes = b"") -> bytes:
    length = f"content-length: {len(body)}\r\n".encode() if body else b""
    return b"POST / HTTP/1.1\r\nhost: x\r\n" + length + headers + b"\r\n" + body


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """(status, body) of one response; (0, b"") if the connection closed first."""
    async with asyncio.timeout(BOUND):
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return 0, b""
        lines = head.decode().split("\r\n")
        length = next(int(x.split(":")[1]) for x in lines if x.lower().startswith("content-length"))
        return int(lines[0].split()[1]), await reader.readexactly(length)


async def closed(reader: asyncio.StreamReader) -> bool:
    """Whether the server closes the connection within BOUND (anything it sent first is skipped)."""
    try:
        async with asyncio.timeout(BOUND):
            while await reader.read(65536):
                pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


async def test_requests_within_the_limits_pass() -> None:
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(request(b"x-big: " + b"a" * 60_000 + b"\r\n", b"hello"))
        assert await response(reader) == (200, b"5")
        writer.close()


async def test_a_head_over_64_kib_is_a_431_even_while_the_client_keeps_sending() -> None:
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(request(b"x-big: " + b"a" * 70_000 + b"\r\n"))
        assert (await response(reader))[0] == 431
        writer.close()

        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: ")
        with contextlib.suppress(ConnectionError):
            for _ in range(32):
                writer.write(b"a" * 65536)
                await writer.drain()
        status, body = await response(reader)
        assert status == 431 and b"64 KiB" in body
        assert await closed(reader)


async def test_a_head_ending_in_the_read_that_crosses_the_limit_is_served_whole() -> None:
    async with serving() as port:
        for head_size in (65_000, 65_400):
            reader, writer = await connect(port)
            body = b"b" * 200_000
            writer.write(request(b"x-big: " + b"a" * head_size + b"\r\n", body))  # one write: head + body
            assert await response(reader) == (200, str(len(body)).encode())
            writer.close()


async def test_heads_are_counted_per_request_on_a_keep_alive_connection() -> None:
    async with serving() as port:
        reader, writer = await connect(port)
        for _ in range(3):
            writer.write(request(b"x-big: " + b"a" * 50_000 + b"\r\n", b"xy"))
            assert await response(reader) == (200, b"2")
        writer.write(request() * 2)  # pipelined
        assert await response(reader) == (200, b"0")
        assert await response(reader) == (200, b"0")
        writer.close()


async def test_a_slowloris_head_is_cut_off_at_the_header_timeout() -> None:
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\n")

        async def trickle() -> None:
            with contextlib.suppress(ConnectionError):
                for _ in range(int(BOUND * 10)):
                    writer.write(b"x: y\r\n")
                    await writer.drain()
                    await asyncio.sleep(0.1)

        dripping = asyncio.create_task(trickle())
        try:
            status, _ = await response(reader)
            assert status == 408
            assert await closed(reader)
        finally:
            dripping.cancel()


async def test_a_connection_that_says_nothing_is_closed_without_an_answer() -> None:
    async with serving() as port:
        reader, _ = await connect(port)
        async with asyncio.timeout(BOUND):
            assert await reader.read() == b""


async def test_an_idle_keep_alive_connection_is_closed() -> None:
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(request())
        assert await response(reader) == (200, b"0")
        assert await closed(reader)


async def test_the_next_head_on_a_kept_alive_connection_has_its_own_timeout() -> None:
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(request())
        assert await response(reader) == (200, b"0")
        writer.write(b"GET / HTTP/1.1\r\n")  # and nothing more
        assert (await response(reader))[0] == 408


async def test_connections_per_address_are_capped() -> None:
    async with serving() as port:
        held = [await connect(port) for _ in range(SHORT.max_connections_per_ip)]
        reader, _ = await connect(port)
        status, body = await response(reader)
        assert status == 503 and b"your address" in body
        held[0][1].close()
        async with asyncio.timeout(BOUND):
            while True:  # the server sees the close a moment later
                reader, writer = await connect(port)
                writer.write(request())
                status, _ = await response(reader)
                if status == 200:
                    break
                await asyncio.sleep(0.05)
        for _, w in held[1:]:
            w.close()


async def test_connections_per_edge_are_capped() -> None:
    limits = EdgeLimits(header_timeout=5, max_connections=3, max_connections_per_ip=0)
    async with serving(limits) as port:
        held = [await connect(port) for _ in range(3)]
        reader, _ = await connect(port)
        status, body = await response(reader)
        assert status == 503 and b"too many open connections" in body
        for _, w in held:
            w.close()


async def test_unfinished_heads_share_one_budget() -> None:
    limits = EdgeLimits(header_timeout=5, pending_head_budget=100_000)
    async with serving(limits) as port:
        partial = b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 40_000
        first = await connect(port)
        second = await connect(port)
        third = await connect(port)
        for _, writer in (first, second, third):
            writer.write(partial)
            await writer.drain()
        status, body = await response(third[0])
        assert status == 503 and b"busy" in body
        for reader, writer in (first, second):
            writer.write(b"\r\n\r\n")
            assert await response(reader) == (200, b"0")


@pytest.mark.parametrize("size", [0, 1])
async def test_a_refused_connection_still_gets_its_answer(size: int) -> None:
    """Even with unread input on the socket, the answer arrives before the close (no reset)."""
    async with serving() as port:
        reader, writer = await connect(port)
        writer.write(b"GET / HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * (70_000 + size * 500_000))
        assert (await response(reader))[0] == 431


class FakeTransport(asyncio.Transport):
    """Just enough transport for one protocol instance, recording what it writes."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("192.0.2.7", 40000), "sockname": ("127.0.0.1", 8000)}.get(name, default)

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def feed(data: bytes, reads: int) -> tuple[LimitedHttpToolsProtocol, FakeTransport]:
    """A new connection of a SHORT-limited protocol given `data` in `reads` reads."""
    http, _ = protocols(SHORT)
    config = uvicorn.Config(app, http=http, lifespan="off", log_level="critical")
    config.load()
    protocol = http(config=config, server_state=ServerState(), app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)
    step = len(data) // reads + 1
    for start in range(0, len(data), step):
        if not transport.closing:
            protocol.data_received(data[start : start + step])
    return protocol, transport


@pytest.mark.parametrize("reads", [1, 2])
@pytest.mark.parametrize("extra, status", [(0, b" 200 "), (1, b" 431 ")])
async def test_the_limit_is_exact_whatever_the_reads(reads: int, extra: int, status: bytes) -> None:
    """A head of exactly the limit passes and one byte more does not, however the bytes arrive;
    a body in the same read as the end of the head is not counted as head."""
    prefix = b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100000\r\nx-big: "
    head = prefix + b"a" * (SHORT.max_header_bytes - len(prefix) - 4 + extra) + b"\r\n\r\n"
    protocol, transport = feed(head + b"b" * 100_000, reads)
    await eventually(lambda: b"\r\n\r\n" in transport.written)
    assert status in bytes(transport.written[:20]), transport.written[:200]
    if status == b" 200 ":
        await eventually(lambda: transport.written.endswith(b"100000"))
    protocol.connection_lost(None)
    assert protocol.shared.pending_head == 0 and not protocol.shared.by_address


def test_max_connections_fit_under_the_open_files_limit() -> None:
    import resource

    from services.edge.limits import DESCRIPTOR_RESERVE, fit_to_descriptors

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard == resource.RLIM_INFINITY:
        pytest.skip("no hard open-files limit here")
    fitted = fit_to_descriptors(EdgeLimits(max_connections=10**9))
    assert fitted.max_connections == resource.getrlimit(resource.RLIMIT_NOFILE)[0] - DESCRIPTOR_RESERVE
    assert fit_to_descriptors(EdgeLimits(max_connections=10)).max_connections == 10


async def test_a_websocket_keeps_counting_against_its_address_until_it_closes() -> None:
    from websockets.asyncio.client import connect as ws_connect

    async with serving() as port:
        sockets = [await ws_connect(f"ws://127.0.0.1:{port}/") for _ in range(SHORT.max_connections_per_ip)]
        reader, _ = await connect(port)
        assert (await response(reader))[0] == 503
        for ws in sockets:
            await ws.close()
        for _ in range(int(BOUND / 0.05)):  # the server sees the closes a moment later
            reader, writer = await connect(port)
            writer.write(request())
            if (await response(reader))[0] == 200:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("closed WebSockets still counted against their address")
