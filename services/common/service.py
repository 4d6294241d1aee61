"""One skeleton for every service process, in uvicorn's phases: start up (logging, tracing, the
printed configuration, the authenticated bus connection), report ready, serve until SIGTERM/SIGINT,
shut down (ready file removed, bus drained, spans flushed).

Each service's main.py then holds only its configuration and its wiring:

    async with service.running("edge", cfg) as svc:
        ...                      # wire dependencies on svc.nc
        svc.ready(address)
        await svc.stopped()
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator
from typing import Protocol

from nats.aio.client import Client

from services.common import bus, config, logs, tracing
from services.common.readiness import write_ready_file


class ServiceConfig(Protocol):
    """What the skeleton needs of a service's configuration dataclass."""

    @property
    def nats_url(self) -> str: ...

    @property
    def nats_seed_file(self) -> str: ...

    @property
    def ready_file(self) -> str: ...


class Service:
    def __init__(self, name: str, cfg: ServiceConfig, nc: Client, log: logging.Logger) -> None:
        self.name = name
        self.nc = nc
        self.log = log
        self._cfg = cfg
        self._stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stop.set)

    def ready(self, content: str) -> None:
        """Tells whoever started this process that it serves, and where (see readiness.py)."""
        write_ready_file(self._cfg.ready_file, content)
        logs.event(self.log, f"{self.name} ready", at=content)

    async def stopped(self) -> None:
        """Returns once the process is asked to stop."""
        await self._stop.wait()

    def stop(self) -> None:
        self._stop.set()


@contextlib.asynccontextmanager
async def running(name: str, cfg: ServiceConfig, *, bus_name: str = "") -> AsyncIterator[Service]:
    log = logs.setup(name)
    print(f"berth-{name} {config.describe(cfg)}", flush=True)
    tracing.setup(name)
    nc = await bus.connect(cfg.nats_url, bus_name or name, seed_file=cfg.nats_seed_file)
    try:
        yield Service(name, cfg, nc, log)
    finally:
        if cfg.ready_file:
            with contextlib.suppress(FileNotFoundError):
                os.remove(cfg.ready_file)
        with contextlib.suppress(Exception):
            await nc.drain()
        tracing.shutdown()
