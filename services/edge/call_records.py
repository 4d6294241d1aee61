"""Redirected calls' records in the `berth-call-results` KV bucket, shared by every edge.

The edge running a call writes a pending record when it redirects the client, rewrites it while
the call runs (so another edge can tell a call that runs from one whose edge died), and writes the
result once done; each write expires `ttl` seconds after it was made (a per-message TTL, which the
bucket allows; the bucket's own max age is only a backstop). An edge a redirect lands on without
the call reads the record and, while it is pending, watches that one key.

Write order between the three is settled by JetStream, not by timing: the pending record is only
created where there is none, a refresh only replaces the revision this edge last wrote, and the
result replaces whatever is there. So a late pending write or refresh never hides a result.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from google.protobuf.message import DecodeError
from nats.js import JetStreamContext, api
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from berth.v1 import state_pb2, stream_pb2
from services.edge.calls import Call, Result

log = logging.getLogger("berth.edge")

WRITE_TIMEOUT = 2.0
READ_TIMEOUT = 2.0
# Watch consumers the server may drop on its own if an edge dies mid-wait.
WATCH_INACTIVE = 30.0


class RecordsUnavailable(Exception):
    """The bucket could not be read: the follow-up gets a 503, never a guess."""


def _now_ms() -> int:
    return int(time.time() * 1000)


def to_head(result: Result) -> stream_pb2.ResponseHead:
    return stream_pb2.ResponseHead(
        status=result.status,
        headers=[stream_pb2.Header(name=k, value=v) for k, v in result.headers],
        body=result.body,
        end=True,
    )


def from_head(head: stream_pb2.ResponseHead) -> Result:
    return Result(head.status, [(h.name, h.value) for h in head.headers], head.body)


class CallRecords:
    def __init__(self, js: JetStreamContext, kv: KeyValue, bucket: str, edge_id: str, ttl: float) -> None:
        self._js = js
        self._kv = kv
        self._prefix = f"$KV.{bucket}."
        self._edge_id = edge_id
        self._ttl = max(1, int(ttl))

    def _record(self, call: Call, result: Result | None = None) -> bytes:
        record = state_pb2.CallRecord(
            app=call.app,
            function=call.function,
            edge_id=self._edge_id,
            updated_at_ms=_now_ms(),
            spawned=call.spawned,
        )
        if result is not None:
            record.done = True
            record.result.CopyFrom(to_head(result))
        return record.SerializeToString()

    async def _write(self, call: Call, value: bytes, last: int | None) -> int:
        headers: dict[str, Any] | None = None
        if last is not None:  # only where the subject's last revision is `last` (0: none yet)
            headers = {api.Header.EXPECTED_LAST_SUBJECT_SEQUENCE.value: str(last)}
        ack = await self._js.publish(
            self._prefix + call.id, value, timeout=WRITE_TIMEOUT, headers=headers, msg_ttl=self._ttl
        )
        return int(ack.seq)

    async def announce(self, call: Call) -> None:
        """The pending record, written before the 303 goes out so any edge knows the call."""
        try:
            call.revision = await self._write(call, self._record(call), last=0)
        except Exception as exc:  # noqa: BLE001 - a result already there, or the bus: both fine
            # Followers on this edge still find the call in memory; others only once it is done.
            log.warning("could not record redirected call: %s: %s", type(exc).__name__, exc)

    async def refresh(self, call: Call) -> None:
        if not call.revision or call.done.is_set():
            return
        with contextlib.suppress(Exception):  # replaced by the result meanwhile, or the bus is away
            call.revision = await self._write(call, self._record(call), last=call.revision)

    async def store(self, call: Call, result: Result, max_payload: int) -> bool:
        """The result, for every edge; False when it could not be written (too big for one
        message, or the bus failed): then only this edge has it."""
        value = self._record(call, result)
        if len(value) > max_payload:
            log.warning("redirected call's result of %d bytes is too big for the bus", len(value))
            return False
        try:
            await self._write(call, value, last=None)
        except Exception as exc:  # noqa: BLE001 - the bus failing must not fail the call
            log.warning("could not store redirected call's result: %s: %s", type(exc).__name__, exc)
            return False
        return True

    async def get(self, call_id: str) -> state_pb2.CallRecord | None:
        try:
            entry = await asyncio.wait_for(self._kv.get(call_id), READ_TIMEOUT)
        except KeyNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - timeouts, no responders, a lost connection
            raise RecordsUnavailable(f"{type(exc).__name__}: {exc}") from None
        return _parse(entry.value)

    async def wait(self, call_id: str, timeout: float) -> state_pb2.CallRecord | None:
        """The record once it is done, or the latest pending one after `timeout`; None when it
        disappears (expired) meanwhile."""
        try:
            watcher = await self._kv.watch(call_id, inactive_threshold=WATCH_INACTIVE)
        except Exception as exc:  # noqa: BLE001 - as get()
            raise RecordsUnavailable(f"{type(exc).__name__}: {exc}") from None
        latest: state_pb2.CallRecord | None = None
        try:
            async with asyncio.timeout(timeout):
                async for entry in watcher:
                    if entry is None:  # the end of what was there when the watch began
                        continue
                    if entry.operation in ("DEL", "PURGE"):
                        return None
                    latest = _parse(entry.value)
                    if latest is not None and latest.done:
                        return latest
        except TimeoutError:
            pass
        finally:
            with contextlib.suppress(Exception):
                await watcher.stop()
        return latest


def _parse(value: bytes | None) -> state_pb2.CallRecord | None:
    if not value:
        return None
    try:
        return state_pb2.CallRecord.FromString(value)
    except DecodeError:
        log.warning("unreadable call record")
        return None
