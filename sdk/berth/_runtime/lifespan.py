"""ASGI lifespan, like uvicorn's `lifespan="auto"`: apps that do not speak it are served anyway."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from .types import ASGIApp, Message


class LifespanFailed(Exception):
    """The app reported lifespan.startup.failed (or shutdown.failed)."""


class Lifespan:
    """Runs the app's lifespan protocol in a task: `startup()` before serving, `shutdown()` after."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self._queue: asyncio.Queue[Message] = asyncio.Queue()
        self._started = asyncio.Event()
        self._stopped = asyncio.Event()
        self._failure: str | None = None
        self._supported = True
        self._task: asyncio.Task[None] | None = None

    async def startup(self) -> None:
        """Runs the app's startup; raises LifespanFailed if the app reports a failure."""
        self._task = asyncio.create_task(self._main())
        await self._queue.put({"type": "lifespan.startup"})
        await self._started.wait()
        if self._failure is not None:
            raise LifespanFailed(self._failure)

    async def shutdown(self, timeout: float) -> None:
        """Runs the app's shutdown, waiting at most `timeout` seconds."""
        if self._task is None or not self._supported or self._task.done():
            return
        await self._queue.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(self._stopped.wait(), timeout)
        except TimeoutError:
            print(f"berth: ASGI lifespan shutdown did not finish within {timeout:g} s", file=sys.stderr)
            self._task.cancel()
        if self._failure is not None:
            print(f"berth: ASGI lifespan shutdown failed: {self._failure}", file=sys.stderr)

    async def _main(self) -> None:
        scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": self.state}
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            if not self._started.is_set():
                # The app does not handle lifespan scopes: serve it without (uvicorn's "auto").
                self._supported = False
            elif not self._stopped.is_set():
                self._failure = f"{type(exc).__name__}: {exc}"
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._started.set()
            self._stopped.set()

    async def _receive(self) -> Message:
        return await self._queue.get()

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "lifespan.startup.complete":
            self._started.set()
        elif kind == "lifespan.startup.failed":
            self._failure = str(message.get("message", "")) or "lifespan startup failed"
            self._started.set()
        elif kind == "lifespan.shutdown.complete":
            self._stopped.set()
        elif kind == "lifespan.shutdown.failed":
            self._failure = str(message.get("message", "")) or "lifespan shutdown failed"
            self._stopped.set()
