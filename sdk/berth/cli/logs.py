"""`berth app logs` and the log lines `berth serve` prints: fetching, filtering and formatting.

A line reads `TIME FUNCTION[PARAMS] CONTAINER STREAM: TEXT`; an access line's text is
`METHOD PATH STATUS DURATION request ID`, one per request the edge answered.
"""

from __future__ import annotations

import datetime
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from berth._errors import InvalidError
from berth.cli.client import Api, translate
from berth.v1 import control_pb2

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(value: str, *, now: float | None = None) -> int:
    """`--since` as unix ms: an age (`90s`, `10m`, `2h`, `1d`) or an ISO 8601 time (local if naive)."""
    text = value.strip()
    found = _DURATION.match(text)
    if found:
        now = time.time() if now is None else now
        return int((now - float(found.group(1)) * _UNIT_SECONDS[found.group(2)]) * 1000)
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidError(
            f"--since {value!r} is neither an age (e.g. 30s, 10m, 2h, 1d) "
            "nor a time (e.g. 2026-01-31T14:05:00)"
        ) from None
    return int(moment.timestamp() * 1000)


def format_line(line: control_pb2.LogLine) -> str:
    """One line for a terminal: time, function and parameter set, container, stream, text."""
    stamp = datetime.datetime.fromtimestamp(line.time_ms / 1000).isoformat(timespec="milliseconds")
    where = line.function or "-"
    if line.params:
        where += f"[{line.params}]"
    return f"{stamp} {where} {line.container_id or '-'} {line.stream}: {_text(line)}"


def _text(line: control_pb2.LogLine) -> str:
    if line.stream != "access":
        return line.text
    entry = line.access
    status = str(entry.status) if entry.status else "- (client left before a response)"
    return f"{entry.method} {entry.path} {status} {entry.duration_us / 1000:.1f}ms request {line.request_id}"


@dataclass(frozen=True)
class Query:
    """What `berth app logs` asks for; see control.proto's AppLogsRequest."""

    name: str
    follow: bool = False
    function: str = ""
    since_ms: int = 0
    tail: int = 0
    ephemeral: bool = False

    def request(self) -> control_pb2.AppLogsRequest:
        return control_pb2.AppLogsRequest(
            name=self.name,
            follow=self.follow,
            function=self.function,
            since_ms=self.since_ms,
            tail=self.tail,
            ephemeral=self.ephemeral,
        )


def stream(api: Api, query: Query) -> Iterator[control_pb2.LogLine]:
    """The lines the platform keeps for `query`; with follow, goes on until cancelled."""
    try:
        yield from api.control.AppLogs(query.request(), metadata=api.metadata)
    except grpc.RpcError as exc:
        if exc.code() == grpc.StatusCode.CANCELLED:
            return
        raise translate(exc) from None


def print_logs(api: Api, query: Query, *, out: Callable[[str], None] | None = None) -> None:
    """Prints (or hands to `out`) each line of `query`, formatted; Ctrl-C ends a follow quietly."""
    write = out or (lambda text: print(text, flush=True))
    if query.tail < 0:
        raise InvalidError(f"--tail {query.tail}: give a number of lines, 0 or more")
    try:
        for line in stream(api, query):
            write(format_line(line))
    except KeyboardInterrupt:
        sys.exit(130)
