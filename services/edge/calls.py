"""The edge's table of redirected calls: web requests that outlived the redirect limit (see
redirects.py), while they run and, once finished, their results until fetched or expired.

Pure bookkeeping (no I/O; the clock is passed in), so its bounds are testable on their own:

- at most `max_calls` entries, running or finished: a request reaching the limit while the table
  is full is simply not redirected, and its client keeps waiting on its own connection;
- a result is kept up to `max_result` bytes (headers and body), and all results in the table
  together up to `max_bytes`: past either, `reserve` says no and the caller answers the call with
  an error instead (the body is never held whole beyond those bounds);
- a finished entry is dropped `ttl` seconds after its call ended, and earlier once it has been
  served when a copy is in the KV bucket (`stored`): any edge serves it from there;
- finished and stored entries are only a cache of the bucket, so they are evicted, oldest first,
  to make room for running calls (a slot, or bytes).

Call ids are 128 random bits (secrets.token_urlsafe): knowing one is the only way to a result.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

ID_BYTES = 16
_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


def new_call_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def valid_call_id(text: str) -> bool:
    """Whether `text` could be a call id; anything else is refused before any lookup (and is never
    used as a KV key)."""
    return _ID.fullmatch(text) is not None


@dataclass(frozen=True)
class Result:
    """A finished call's whole response."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(name) + len(value) for name, value in self.headers)


@dataclass(eq=False)
class Call:
    id: str
    app: str
    function: str
    done: asyncio.Event = field(default_factory=asyncio.Event)
    result: Result | None = None
    size: int = 0  # bytes of the result counted against the table's budget
    ended_at: float | None = None
    stored: bool = False  # the result is in the KV bucket too
    too_large: bool = False
    revision: int = 0  # KV revision of the record this edge last wrote for it
    # A spawned function call (call_api.py): its result is CallOutputs, fetched by result_of only.
    spawned: bool = False

    def belongs_to(self, app: str, function: str) -> bool:
        return self.app == app and self.function == function and not self.spawned


class CallTable:
    def __init__(
        self,
        *,
        max_calls: int,
        max_result: int,
        max_bytes: int,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_calls = max_calls
        self.max_result = max_result
        self.max_bytes = max_bytes
        self.ttl = ttl
        self._clock = clock
        self._calls: dict[str, Call] = {}  # insertion order is age: eviction goes oldest first
        self.held_bytes = 0

    def __len__(self) -> int:
        return len(self._calls)

    def open(self, app: str, function: str, *, spawned: bool = False) -> Call | None:
        """A new running call of `function`, or None when the table is full of calls that cannot
        be evicted (running ones, or results no other edge could serve)."""
        self.expire()
        if len(self._calls) >= self.max_calls:
            self._evict(lambda: len(self._calls) < self.max_calls)
            if len(self._calls) >= self.max_calls:
                return None
        call = Call(new_call_id(), app, function, spawned=spawned)
        self._calls[call.id] = call
        return call

    def get(self, call_id: str) -> Call | None:
        self.expire()
        return self._calls.get(call_id)

    def running(self) -> list[Call]:
        return [c for c in self._calls.values() if not c.done.is_set()]

    def reserve(self, call: Call, size: int) -> bool:
        """Counts `size` more bytes of `call`'s result. False when that passes `max_result`, or the
        table's `max_bytes` even after evicting cached results: the call is then marked too large
        and its bytes given back (whatever of it was kept must be dropped by the caller)."""
        if call.too_large:
            return False
        if call.size + size > self.max_result:
            self._too_large(call)
            return False
        if self.held_bytes + size > self.max_bytes:
            self._evict(lambda: self.held_bytes + size <= self.max_bytes, keep=call)
            if self.held_bytes + size > self.max_bytes:
                self._too_large(call)
                return False
        call.size += size
        self.held_bytes += size
        return True

    def restart(self, call: Call) -> None:
        """What was reserved for `call` is given back: its response starts over (an error answer
        in place of one that broke off)."""
        self.held_bytes -= call.size
        call.size = 0

    def finish(self, call: Call, result: Result) -> None:
        """The call ended with `result`. Its size replaces what was reserved: an error answer that
        takes the place of a too large result is a line of text, so it is always kept."""
        self.held_bytes += result.size - call.size
        call.size = result.size
        call.result = result
        call.ended_at = self._clock()
        call.done.set()

    def stored(self, call: Call) -> None:
        """The result is in the KV bucket now: the table's copy may go once served, or to make room."""
        call.stored = True

    def served(self, call: Call) -> None:
        if call.stored:
            self._drop(call)

    def expire(self) -> None:
        now = self._clock()
        for call in [
            c for c in self._calls.values() if c.ended_at is not None and now - c.ended_at >= self.ttl
        ]:
            self._drop(call)

    def _too_large(self, call: Call) -> None:
        self.held_bytes -= call.size
        call.size = 0
        call.too_large = True

    def _evict(self, enough: Callable[[], bool], keep: Call | None = None) -> None:
        for call in list(self._calls.values()):
            if enough():
                return
            if call.stored and call.done.is_set() and call is not keep:
                self._drop(call)

    def _drop(self, call: Call) -> None:
        if self._calls.pop(call.id, None) is call:
            self.held_bytes -= call.size


class KeptResponse:
    """An answer kept in the table instead of sent: a redirected call's (redirects.py) or a spawned
    call's (call_api.py), fed the ASGI messages the relay sends. A second head replaces an answer
    that broke off (the edge's error answer follows it). Past the table's bounds the rest is taken
    and dropped, so the function runs to its end (once) and its slot is freed as usual; `result`
    is then None and the call is marked too large."""

    __slots__ = ("_body", "_call", "_table", "complete", "headers", "status")

    def __init__(self, table: CallTable, call: Call) -> None:
        self._table = table
        self._call = call
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self._body: list[bytes] | None = None
        self.complete = False

    def keep(self, message: dict[str, Any]) -> None:
        table, call = self._table, self._call
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", ())]
            self._body = []
            self.complete = False
            table.restart(call)
            table.reserve(call, sum(len(k) + len(v) for k, v in self.headers))
        elif message["type"] == "http.response.body":
            data = message.get("body", b"")
            if self._body is not None and table.reserve(call, len(data)):
                self._body.append(data)
            else:
                self._body = None
            self.complete = not message.get("more_body", False)

    def result(self) -> Result | None:
        """The whole answer, or None if it is incomplete or was too large to keep."""
        if not self.complete or self._body is None or self._call.too_large:
            return None
        return Result(self.status, self.headers, b"".join(self._body))


async def send_result(send: Any, result: Result, *, dropping: Collection[bytes]) -> None:
    """Answers with a kept result whole: its headers less `dropping` (the framing it was sent
    with, and whatever else must not be repeated), with the length of the body it now has."""
    headers = [(k, v) for k, v in result.headers if k.lower() not in dropping]
    headers.append((b"content-length", str(len(result.body)).encode()))
    await send({"type": "http.response.start", "status": result.status, "headers": headers})
    await send({"type": "http.response.body", "body": result.body})

