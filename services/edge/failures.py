"""What a client is told when the platform fails its request, and where the details go.

Platform messages read "summary: detail" (`the container failed to start: ValueError: ... (at
/path/app.py:3)`). A 5xx answered for a deployed app (`live.*`) carries only the summary and a
request id, in the body and in `x-berth-request-id`; the whole message goes to the app's logs
under that id, where `berth app logs` shows it next to the container's own traceback. Client errors
(4xx) say everything, and so do `berth serve` apps (`dev.*`): their developer is the one looking.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from nats.aio.client import Client

from berth.v1 import control_pb2, state_pb2
from services.common import logs, subjects
from services.edge import access

log = logging.getLogger("berth.edge")

REQUEST_ID_HEADER = b"x-berth-request-id"
MAX_SUMMARY = 90
_CLAUSE_END = re.compile(r":(?:\s|$)")


@dataclass(frozen=True)
class Failure:
    status: int
    message: str


async def plain(
    send: Any,
    status: int,
    text: str,
    *,
    kind: str = "http.response",
    headers: Iterable[tuple[bytes, bytes]] = (),
) -> None:
    """A short text/plain answer. `kind="websocket.http.response"` sends it as the denial response
    of a WebSocket handshake."""
    body = (text.rstrip("\n") + "\n").encode()
    await send(
        {
            "type": f"{kind}.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": f"{kind}.body", "body": body})


def summary(message: str) -> str:
    """The part of a platform message a stranger may read: its first line, up to the first ": "."""
    line = message.strip().split("\n", 1)[0]
    head = _CLAUSE_END.split(line, maxsplit=1)[0].strip()
    return (head or "the request failed")[:MAX_SUMMARY]


def request_id() -> str:
    """The id access.py gave the request being served, so its details and access line match."""
    return access.current_request_id() or access.new_request_id()


class Failures:
    """Answers failed requests by the rule above, and writes their details to the app's logs."""

    def __init__(self, nc: Client, edge_id: str) -> None:
        self._nc = nc
        self._edge_id = edge_id

    async def public(self, route: state_pb2.Route | None, failure: Failure) -> tuple[str, str]:
        """(text for the client, request id or "") for `failure` on `route`; logs the detail."""
        if failure.status < 500 or route is None:
            return failure.message, ""
        rid = request_id()
        await self._record(route, rid, failure)
        if route.ephemeral:
            return f"{failure.message} (request id {rid})", rid
        return f"{summary(failure.message)} (request id {rid})", rid

    async def answer(
        self, send: Any, route: state_pb2.Route | None, failure: Failure, *, websocket: bool = False
    ) -> None:
        text, rid = await self.public(route, failure)
        kind = "websocket.http.response" if websocket else "http.response"
        headers = [(REQUEST_ID_HEADER, rid.encode())] if rid else []
        await plain(send, failure.status, text, kind=kind, headers=headers)

    async def _record(self, route: state_pb2.Route, rid: str, failure: Failure) -> None:
        logs.event(
            log, "request failed", logging.WARNING, app=route.app, request_id=rid, status=failure.status
        )
        line = control_pb2.LogLine(
            time_ms=int(time.time() * 1000),
            app=route.app,
            function=route.function,
            container_id=self._edge_id,
            stream="edge",
            text=f"request {rid}: {failure.status} {failure.message}",
            request_id=rid,
        )
        # The client's answer never fails with the log: a lost line is the lesser harm.
        with contextlib.suppress(Exception):
            await self._nc.publish(subjects.app_logs(route.app), line.SerializeToString())
