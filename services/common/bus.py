"""The NATS connection and the few typed helpers every service uses on it.

All payloads are protobuf messages; trace context travels in NATS headers.

A connection outlives its server: when NATS goes away (a restart, `kill -9`) every service tries
again forever, soon at first and then every RECONNECT_MAX seconds at most, and gets its subscriptions
back once the server answers. Whoever has work in flight that can only finish over the bus (the
edge's request streams) registers with `on_disconnect` to fail it at once rather than let it wait
out its timeout: what was in transit when the connection dropped is lost for good.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import nats
from google.protobuf.message import DecodeError, Message
from nats.aio.client import Client, Server
from nats.js import JetStreamContext
from nats.js.errors import BucketNotFoundError, KeyNotFoundError, NotFoundError
from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from services.common import logs, tracing

M = TypeVar("M", bound=Message)
log = logging.getLogger("berth.bus")

RECONNECT_FIRST = 0.05  # seconds before the second attempt; the first is immediate
RECONNECT_MAX = 2.0  # the backoff between attempts stops growing here, however long NATS is away
DRAIN_TIMEOUT = 5  # a shutdown while NATS is away must not wait long to flush what cannot go


def reconnect_delay(attempts: int) -> float:
    """Seconds to wait before the next attempt to reach a server that failed `attempts` times in a
    row: 0, then doubling from RECONNECT_FIRST up to RECONNECT_MAX."""
    if attempts <= 0:
        return 0.0
    return min(RECONNECT_FIRST * 2 ** min(attempts - 1, 16), RECONNECT_MAX)


def _next_server(servers: list[Server], info: dict[str, Any]) -> tuple[Server | None, float]:
    # The server that failed least (several in a cluster), after its backoff; the jitter keeps a
    # host's services from knocking in lockstep on a server that just came back.
    server = min(servers, key=lambda s: s.reconnects)
    return server, reconnect_delay(server.reconnects) * random.uniform(0.8, 1.0)


class _Events:
    """What happens to one connection, logged, and passed on to the `on_disconnect` listeners."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.listeners: list[Callable[[], None]] = []
        self.client: weakref.ref[Client] | None = None

    async def disconnected(self) -> None:
        client = self.client() if self.client is not None else None
        if client is None or client.is_closed:
            return  # nats-py says "disconnected" on close too: that is a shutdown, not a loss
        logs.event(log, "bus connection lost; reconnecting", logging.WARNING, client=self.name)
        for listener in list(self.listeners):
            try:
                listener()
            except Exception:  # noqa: BLE001 - one listener's bug must not stop the others
                log.exception("on_disconnect listener failed")

    async def reconnected(self) -> None:
        logs.event(log, "bus connection restored", logging.WARNING, client=self.name)


_events: weakref.WeakKeyDictionary[Client, _Events] = weakref.WeakKeyDictionary()


def on_disconnect(nc: Client, listener: Callable[[], None]) -> None:
    """Calls `listener` (synchronously, on the event loop) every time `nc` loses its server. Only
    for connections made by `connect`."""
    _events[nc].listeners.append(listener)


async def connect(url: str, name: str, *, seed_file: str = "", connect_timeout: float = 10.0) -> Client:
    """Connects with retries until `connect_timeout`, then reconnects forever on loss.

    `seed_file` holds this identity's NATS nkey seed (see services/common/credentials.py); the
    server refuses anyone without one. Replies come to an inbox prefixed with the identity's role,
    so each role may subscribe only to its own inboxes.
    """
    _check_seed(seed_file)
    deadline = asyncio.get_running_loop().time() + connect_timeout
    last: Exception | None = None
    events = _Events(name)
    while asyncio.get_running_loop().time() < deadline:
        try:
            nc = await nats.connect(
                url,
                name=name,
                max_reconnect_attempts=-1,
                reconnect_to_server_handler=_next_server,
                connect_timeout=2,
                allow_reconnect=True,
                drain_timeout=DRAIN_TIMEOUT,
                disconnected_cb=events.disconnected,
                reconnected_cb=events.reconnected,
                nkeys_seed=seed_file or None,
                inbox_prefix=inbox_prefix(seed_file).encode(),
            )
            events.client = weakref.ref(nc)
            _events[nc] = events
            return nc
        except Exception as exc:  # noqa: BLE001 - any failure to reach the server is retried
            last = exc
            await asyncio.sleep(0.1)
    raise ConnectionError(f"cannot reach NATS at {url} within {connect_timeout:.0f}s: {last}")


def _check_seed(seed_file: str) -> None:
    if seed_file and not os.path.isfile(seed_file):
        raise ConnectionError(f"NATS credentials {seed_file} do not exist (berth up creates them)")


def inbox_prefix(seed_file: str) -> str:
    """`_INBOX_<identity>`, from the seed file's name (`scheduler.nk` -> `_INBOX_scheduler`)."""
    if not seed_file:
        return "_INBOX"
    return "_INBOX_" + os.path.basename(seed_file).removesuffix(".nk")


def headers() -> dict[str, str]:
    """NATS headers carrying the current trace context."""
    return dict(tracing.inject({}))


async def publish(nc: Client, subject: str, message: Message, *, reply: str = "") -> None:
    await nc.publish(subject, message.SerializeToString(), reply=reply, headers=headers() or None)


async def request(nc: Client, subject: str, message: Message, reply_type: type[M], *, timeout: float) -> M:
    msg = await nc.request(subject, message.SerializeToString(), timeout=timeout, headers=headers() or None)
    return reply_type.FromString(msg.data)


def parse(message_type: type[M], data: bytes) -> M:
    return message_type.FromString(data)


async def key_value(js: JetStreamContext, bucket: str, *, history: int = 1) -> KeyValue:
    """The KV bucket, created on first use (every service may be the first)."""
    try:
        return await js.key_value(bucket)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_key_value(bucket=bucket, history=history)


async def object_store(js: JetStreamContext, bucket: str) -> ObjectStore:
    try:
        return await js.object_store(bucket)
    except (BucketNotFoundError, NotFoundError):
        return await js.create_object_store(bucket=bucket)


async def get_record(kv: KeyValue, key: str, message_type: type[M]) -> M | None:
    """The protobuf record under `key`, or None when there is none or it is unreadable (not written
    by the platform: it is logged, with the key shortened, and never trusted)."""
    try:
        entry = await kv.get(key)
    except KeyNotFoundError:
        return None
    if not entry.value:
        return None
    try:
        return message_type.FromString(entry.value)
    except DecodeError:
        log.warning("unreadable %s record %s…", message_type.__name__, key[:8])
        return None


async def kv_keys(kv: KeyValue) -> list[str]:
    """The bucket's keys, deleted ones included (their reads find nothing), sorted.

    Read from the stream's per-subject state: one JetStream API request. nats-py's `kv.keys()`
    runs a watcher that decides from a consumer's pending count when the listing is over; under
    load it can end before the first key and report a bucket that has records as empty (seen:
    `secret list` and `proxy-auth list` answering "none" right after a create)."""
    prefix = kv._pre  # noqa: SLF001 - "$KV.<bucket>.", the subjects the bucket's stream holds
    info = await kv._js.stream_info(kv._stream, subjects_filter=f"{prefix}>")  # noqa: SLF001
    return sorted(subject[len(prefix) :] for subject in (info.state.subjects or {}))


async def records(kv: KeyValue, message_type: type[M]) -> list[tuple[str, M]]:
    """Every readable record of the bucket, with its key; [] for an empty bucket."""
    keys = await kv_keys(kv)
    found = []
    for key in keys:
        record = await get_record(kv, key, message_type)
        if record is not None:
            found.append((key, record))
    return found
