"""The dashboard's live parts: the sampler of the edge's registry, and the server-sent event streams
a page follows (stats for the apps it shows, an app's log lines).

The sampler reads the edge's own request series every few seconds (a restricted view of the
registry: two collectors, no /proc reads) into a window of snapshots (stats.py), so a figure over
the last minute is there as soon as a page asks. It samples only while the dashboard is in use (a
page or a stats event within IDLE_AFTER): an edge nobody watches does no dashboard work, which
keeps an idle platform idle. When sampling starts (or resumes) the window starts afresh, so for a
minute the figures cover only the time since the dashboard was opened. The scheduler's series
(cold starts) are fetched only when a page or a stats event needs them, over the bus the edge
already uses for /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from berth.cli.logs import format_line
from berth.v1 import control_pb2
from services.edge.dashboard import stats
from services.edge.dashboard.api import ApiError
from services.edge.dashboard.http import KEEPALIVE, event
from services.edge.dashboard.templates import script_json

log = logging.getLogger("berth.edge")

SAMPLE_EVERY = 2.0  # seconds between snapshots of the registry
STATS_EVERY = 2.0  # seconds between a page's stats events
IDLE_AFTER = 600.0  # seconds without a page or a stats event before sampling pauses
LOG_TAIL = 200  # lines a log view starts with

SchedulerSeries = Callable[[], Awaitable[bytes]]


class Sampler:
    def __init__(
        self,
        registry: CollectorRegistry,
        scheduler_series: SchedulerSeries | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        every: float = SAMPLE_EVERY,
        idle_after: float = IDLE_AFTER,
    ) -> None:
        self._view = registry.restricted_registry([stats.REQUESTS, stats.BUCKETS])
        self._series = scheduler_series
        self._clock = clock
        self._every = every
        self._idle_after = idle_after
        self._used_at = clock()
        self._window = stats.Window()
        self._task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _used(self) -> None:
        """The dashboard is in use: sample (again) until it has not been for IDLE_AFTER."""
        self._used_at = self._clock()
        if self._task is None or self._task.done():
            # Starting, or resuming after a pause: older snapshots would stretch "the last
            # minute" over the time nobody looked.
            self._window = stats.Window()
            self._window.add(self._snapshot())
            self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while self._clock() - self._used_at < self._idle_after:
            await asyncio.sleep(self._every)
            self._window.add(self._snapshot())

    def _snapshot(self) -> stats.Snapshot:
        samples = [s for family in self._view.collect() for s in family.samples]
        return stats.snapshot(samples, self._clock())

    def figures(self) -> dict[stats.Key, stats.Figures]:
        """Each function's figures now (a fresh snapshot) against the one a minute back."""
        self._used()
        now = self._snapshot()
        return stats.figures(now, self._window.baseline(now.at))

    async def cold_starts(self) -> dict[stats.Key, stats.ColdStarts]:
        if self._series is None:
            return {}
        text = (await self._series()).decode("utf-8", "replace")
        try:
            samples = [s for family in text_string_to_metric_families(text) for s in family.samples]
        except ValueError as exc:  # a scheduler of another version: show the rest all the same
            log.warning("cannot parse the scheduler's series for the dashboard: %s", exc)
            return {}
        return stats.cold_starts(samples)


async def stats_events(
    payload: Callable[[], Awaitable[dict[str, Any]]], alive: Callable[[], bool], every: float = STATS_EVERY
) -> AsyncIterator[str]:
    """A stats event every `every` seconds while the session lives; a `problem` event then ends it
    (the page reloads, and a logged-out user lands on the login page)."""
    while alive():
        try:
            yield event(script_json(await payload()), "stats")
        except ApiError as exc:
            yield event(script_json({"text": str(exc)}), "problem")
            return
        await asyncio.sleep(every)
    yield event(script_json({"text": "the session ended"}), "problem")


async def log_events(
    lines: AsyncIterator[control_pb2.LogLine], alive: Callable[[], bool]
) -> AsyncIterator[str]:
    """Each log line as an event (JSON: the text is shown as text, never parsed as markup), with a
    comment on quiet streams so a client that left, or a session that ended, is noticed."""
    pending: asyncio.Task[control_pb2.LogLine] | None = None
    try:
        while alive():
            if pending is None:
                pending = asyncio.ensure_future(anext(lines))  # type: ignore[arg-type]
            done, _ = await asyncio.wait({pending}, timeout=KEEPALIVE)
            if not done:
                yield ": still here\n\n"
                continue
            task, pending = pending, None
            try:
                line = task.result()
            except StopAsyncIteration:
                yield event(script_json({"text": "the log stream ended"}), "problem")
                return
            except ApiError as exc:
                yield event(script_json({"text": str(exc)}), "problem")
                return
            yield event(script_json({"text": format_line(line), "stream": line.stream}))
        yield event(script_json({"text": "the session ended: log in again"}), "problem")
    finally:
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pending
        with contextlib.suppress(Exception):
            await lines.aclose()  # type: ignore[attr-defined]
