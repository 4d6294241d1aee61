"""HTTP limits of the edge's public port, as a subclass of uvicorn's httptools protocol.

uvicorn parses with httptools (llhttp, in C) and has none of these limits: a header may grow
without bound while httptools buffers it, a connection that never finishes its head is never
closed, and nothing caps connections at accept. This protocol adds, per connection:

- the request head (request line and headers) is at most `max_header_bytes`, counted on the bytes
  as they arrive, before httptools buffers them: beyond it, 431 and the connection is closed;
- a head must be complete within `header_timeout` of its first byte (or of the connection opening,
  so a client that connects and says nothing is closed too): 408, or a silent close if nothing came;
- connections per edge (`max_connections`) and per client address (`max_connections_per_ip`) are
  capped when accepted: one more is answered 503 and closed;
- the bytes held in unfinished heads across the whole edge are at most `pending_head_budget`, so
  many addresses each within their cap still cannot make the edge grow: past it, 503 and closed.

An idle keep-alive connection is closed after `keep_alive_timeout` (uvicorn's own timer). On a
pipelining connection, the start of a next head that arrives in the same read as the end of the
previous request is not counted (at most one read, 256 KiB): the bound holds all the same. A warm
request that arrives in one read costs one addition and two comparisons here, no timer: the header
timer is only armed when a head spans several reads (and once per connection).
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import logging
import resource
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

# After refusing a request whose body or head is still arriving, keep reading (and dropping) for a
# moment before closing: closing with unread input makes the kernel reset the connection, and the
# client would lose the answer explaining why.
LINGER_SECONDS = 1.0
LINGER_BYTES = 1 << 20
# Descriptors kept free beyond max_connections: the bus, logs, and connections being refused.
DESCRIPTOR_RESERVE = 256

log = logging.getLogger("berth.edge")


@dataclass(frozen=True)
class EdgeLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    keep_alive_timeout: int = 5
    max_connections: int = 4096
    max_connections_per_ip: int = 256  # 0: no cap per address (behind a proxy all share its address)
    pending_head_budget: int = 32 << 20
    # A request body with no bytes for this long while more are due: 408 (services/edge/proxy.py).
    body_timeout: float = 30.0


class Connections:
    """What every connection of one server shares: counts by client address, and the bytes held
    in unfinished request heads."""

    def __init__(self, limits: EdgeLimits) -> None:
        self.limits = limits
        self.by_address: dict[str, int] = {}
        self.pending_head = 0

    def admit(self, address: str, open_connections: int) -> str:
        """Counts a new connection from `address` (`open_connections` includes it); returns why it
        is refused instead ("" when it is admitted, and only then is it counted)."""
        if open_connections > self.limits.max_connections:
            return "this edge has too many open connections; try again shortly"
        count = self.by_address.get(address, 0)
        cap = self.limits.max_connections_per_ip
        if cap and count >= cap:
            return "too many open connections from your address; try again shortly"
        self.by_address[address] = count + 1
        return ""

    def release(self, address: str) -> None:
        count = self.by_address.get(address, 0) - 1
        if count > 0:
            self.by_address[address] = count
        else:
            self.by_address.pop(address, None)


def _response(status: int, text: str) -> bytes:
    body = (text + "\n").encode()
    phrase = http.HTTPStatus(status).phrase
    return (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits above; bound to a server by `protocols()`."""

    limits: ClassVar[EdgeLimits]
    shared: ClassVar[Connections]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head = 0  # bytes of the unfinished request head so far; -1 while none is being read
        self._head_timer: asyncio.TimerHandle | None = None
        self._address: str | None = None  # set while this connection counts against its address
        self._refused = False
        self._dropped = 0

    # -- connection --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        address = self.client[0] if self.client else ""
        refusal = self.shared.admit(address, len(self.connections))
        if refusal:
            self._refuse(503, refusal, linger=False)  # a flood must not hold descriptors a second
            return
        self._address = address
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        self._end_head()
        if self._address is not None:
            self.shared.release(self._address)
            self._address = None
        super().connection_lost(exc)

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes over the transport, and with it this address's count.
        self._address = None
        super().handle_websocket_upgrade()

    # -- reading heads -----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._drop(len(data))
            return
        head = self._head
        if head >= 0:
            size = len(data)
            if head + size > self.limits.max_header_bytes:
                self._oversized(data)
                return
            self._head = head + size
            shared = self.shared
            shared.pending_head += size
            if shared.pending_head > self.limits.pending_head_budget:
                self._refuse(503, "this edge is busy reading other requests; try again shortly")
                return
        super().data_received(data)
        if self._head > 0 and self._head_timer is None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_timed_out)

    def _oversized(self, data: bytes) -> None:
        """The head would pass its limit with `data`, unless it ends inside it: feed what fits,
        and refuse only if the head is still not complete there."""
        room = self.limits.max_header_bytes - self._head
        if room > 0:
            self._head += room
            self.shared.pending_head += room
            super().data_received(data[:room])
            if self._head < 0 or self._head == 0 or self.transport.is_closing():
                # The head ended (or the request was answered already): the rest is body or the
                # next request, read as usual.
                if not self.transport.is_closing() and not self._refused:
                    self.data_received(data[room:])
                return
        limit = self.limits.max_header_bytes // 1024
        self._refuse(431, f"request headers are larger than {limit} KiB")

    def on_headers_complete(self) -> None:
        self._end_head()
        self._head = -1
        self._stop_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head = 0  # whatever comes next starts the next request's head

    def _end_head(self) -> None:
        if self._head > 0:
            self.shared.pending_head -= self._head
        self._head = 0

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or self._head < 0:
            return
        if self._head == 0:
            self.transport.close()  # connected and said nothing: no answer owed
            return
        self._refuse(408, f"the request head did not arrive within {self.limits.header_timeout:g}s")

    # -- refusing ----------------------------------------------------------------------------

    def _refuse(self, status: int, text: str, *, linger: bool = True) -> None:
        """Answers `status` and closes: after a half-close and a short linger that reads and drops
        what the client still sends, so the answer is not lost to a connection reset."""
        self._stop_head_timer()
        self._end_head()
        self._head = -1
        self._refused = True
        self.parser = None  # type: ignore[assignment]  # nothing more is parsed on this connection
        transport = self.transport
        if transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            transport.close()  # a response is still being written: no room for another answer
            return
        transport.write(_response(status, text))
        if not linger:
            transport.close()
            return
        if transport.can_write_eof():
            transport.write_eof()
        self.loop.call_later(LINGER_SECONDS, transport.close)

    def _drop(self, size: int) -> None:
        self._dropped += size
        if self._dropped > LINGER_BYTES:
            self.transport.close()


class LimitedWebSocketProtocol(WebSocketsSansIOProtocol):
    """A WebSocket upgraded from a LimitedHttpToolsProtocol: it keeps counting against its
    address until it closes."""

    shared: ClassVar[Connections]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.client:
            self.shared.release(self.client[0])
        super().connection_lost(exc)


def fit_to_descriptors(limits: EdgeLimits) -> EdgeLimits:
    """Raises this process's open-files limit as far as allowed, and lowers max_connections to
    fit under it: an edge out of descriptors cannot even accept a connection to refuse it."""
    wanted = limits.max_connections + DESCRIPTOR_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return limits
    fitted = max(1, soft - DESCRIPTOR_RESERVE)
    log.warning(
        "open-files limit %d: max_connections lowered from %d to %d", soft, limits.max_connections, fitted
    )
    return dataclasses.replace(limits, max_connections=fitted)


def protocols(limits: EdgeLimits) -> tuple[type[LimitedHttpToolsProtocol], type[LimitedWebSocketProtocol]]:
    """The HTTP and WebSocket protocol classes for one server (uvicorn.Config `http=` and `ws=`),
    sharing one `Connections`."""
    shared = Connections(limits)

    class EdgeHttp(LimitedHttpToolsProtocol):
        pass

    class EdgeWebSocket(LimitedWebSocketProtocol):
        pass

    EdgeHttp.limits = limits
    EdgeHttp.shared = shared
    EdgeWebSocket.shared = shared
    return EdgeHttp, EdgeWebSocket
