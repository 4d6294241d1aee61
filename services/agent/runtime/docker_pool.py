"""Pre-started containers for the Docker runtime: a cold start that skips booting a container.

Booting a container and importing FastAPI take most of a Docker cold start. So once a container
of some image and limits has been launched, the runtime keeps one more of that kind running
ahead of time: hardened exactly like any other, with the runner and the libraries a container is
likely to need already imported (the zygote's PRELOAD list), blocked reading a FIFO in its slot.
Launching a container of that kind then fills the slot (code, boot order, socket), writes the
container's environment to the FIFO, and the waiting interpreter becomes the runner in place: its
environment replaced, `berth._runtime` run as `-m` would. A new one is started behind it.

Each pre-started container serves one container, once, so nothing passes between tenants that
share an image. An interpreter whose start-up the container's environment would change (PYTHON*
variables, locale), or whose preloaded modules the container's code shadows, re-executes itself
as a fresh `python -m berth._runtime` instead. `BERTH_DOCKER_POOL=0` turns the pool off.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import json
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from services.agent.runtime.docker_params import Limits, Slot

log = logging.getLogger("berth.agent")

FIFO_NAME = "specialise"
# Kinds of container (image, interpreter, limits, start-up environment) with a container waiting.
MAX_KINDS = 4
# A pre-started container not ready after this long is dropped, and its kind left alone a while.
READY_TIMEOUT = 60.0
RETRY_AFTER = 60.0
# How long a launch waits for a pre-started container that is still starting, and how often it looks.
WAIT = 5.0
POLL = 0.01
CLOSE_TIMEOUT = 30.0
_STARTUP_ENV = ("LANG", "LC_ALL", "LC_CTYPE")

# Runs inside the container as `python -c`. Everything it needs is in the image's runner package.
BOOTSTRAP = f"""
import json, os, sys
try:
    from berth._runtime.zygote import PRELOAD, preload, third_party_modules
except ImportError:
    sys.exit("berth: this image's runner cannot be pre-started")
preload(("berth._runtime.main", *PRELOAD))
modules = set(third_party_modules())

def startup(env):
    return {{k: v for k, v in env.items()
            if (k.startswith("PYTHON") and k != "PYTHONPATH") or k in {_STARTUP_ENV!r}}}

data = b""
while not data:  # a writer that sent nothing was only looking: wait for the next
    with open("/berth/run/{FIFO_NAME}", "rb") as fifo:
        data = fifo.read()
env = {{**os.environ, **json.loads(data)["env"]}}
cwd = os.getcwd()
extra = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]

def shadowed():
    for directory in (cwd, *extra):
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        if any(name.split(".", 1)[0] in modules for name in names):
            return True
    return False

if startup(env) != startup(os.environ) or shadowed():
    os.execve(sys.executable, [sys.executable, "-m", "berth._runtime"], env)
os.environ.clear()
os.environ.update(env)
import importlib, runpy, time
time.tzset()
sys.path[:] = [cwd, *extra, *sys.path[1:]]
importlib.invalidate_caches()
runpy.run_module("berth._runtime", run_name="__main__", alter_sys=True)  # as `-m berth._runtime`
"""


def bootstrap_command(python: str) -> list[str]:
    return [python if python.startswith("/") else "python3", "-c", BOOTSTRAP]


def startup_env(env: Mapping[str, str]) -> dict[str, str]:
    """What of a container's environment shapes an interpreter as it starts: a pre-started one is
    started with it, and serves only containers that agree."""
    return {
        k: v for k, v in env.items() if (k.startswith("PYTHON") and k != "PYTHONPATH") or k in _STARTUP_ENV
    }


@dataclass(frozen=True)
class PoolKey:
    """The kind of a container: what a pre-started one must have been started with to become it."""

    image: str
    python: str
    limits: Limits
    startup_env: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, image: str, python: str, limits: Limits, env: Mapping[str, str]) -> PoolKey:
        return cls(
            image=image, python=python, limits=limits, startup_env=tuple(sorted(startup_env(env).items()))
        )

    def digest(self) -> str:
        return hashlib.sha256(repr(self).encode()).hexdigest()[:16]


@dataclass
class Prestarted:
    """A running pre-started container, and its end of the FIFO once taken."""

    docker_id: str
    slot: Slot
    fifo: Path
    started: float = field(default_factory=time.monotonic)
    fd: int = -1
    # Set (on the event loop) when a launch took it, and when the container has exited.
    taken: bool = False
    gone: bool = False
    seen_ready: bool = False

    @staticmethod
    def make_fifo(run: Path, uid: int, gid: int) -> Path:
        path = run / FIFO_NAME
        os.mkfifo(path, 0o600)
        if (uid, gid) != (os.getuid(), os.getgid()):
            os.chown(path, uid, gid)
        return path

    def open(self) -> bool:
        """True when the container is ready: its interpreter is waiting at the FIFO."""
        try:
            self.fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            if exc.errno not in (errno.ENXIO, errno.ENOENT):
                log.warning("pre-started container %s: %s", self.docker_id[:12], exc)
            return False
        self.seen_ready = True
        return True

    def specialise(self, env: Mapping[str, str]) -> None:
        """Makes the waiting interpreter the runner of the container whose environment is `env`."""
        data = json.dumps({"env": dict(env)}).encode()
        try:
            os.set_blocking(self.fd, True)
            view = memoryview(data)
            while view:
                view = view[os.write(self.fd, view) :]
        finally:
            os.close(self.fd)
            self.fd = -1


def _retrieve(task: asyncio.Task[Prestarted]) -> None:
    if not task.cancelled():
        task.exception()


@dataclass(eq=False)
class _Entry:
    """A pre-started container of the pool, from the moment its start was asked for."""

    start: asyncio.Task[Prestarted]
    claimed: bool = False

    def ready(self) -> Prestarted | None:
        if not self.start.done() or self.start.cancelled() or self.start.exception() is not None:
            return None
        prestarted = self.start.result()
        return prestarted if not prestarted.gone and prestarted.open() else None


class Pool:
    """Which pre-started containers wait, per kind; starting and dropping them is the runtime's.

    A launch takes a ready one, or else claims one still starting and waits for it up to
    `wait` seconds: it started earlier, so it is ready sooner than a container started now."""

    def __init__(
        self,
        *,
        start: Callable[[PoolKey], Awaitable[Prestarted]],
        discard: Callable[[Prestarted], None],
        size: int = 1,
        wait: float = WAIT,
    ) -> None:
        self._start = start
        self._discard = discard
        self.size = max(0, size)
        self._wait = wait
        self._entries: OrderedDict[PoolKey, list[_Entry]] = OrderedDict()
        self._resting: dict[PoolKey, float] = {}
        self._closed = False

    async def take(self, key: PoolKey) -> Prestarted | None:
        """A ready container of `key`, its FIFO open for the caller to specialise; None if none is
        or becomes ready in time."""
        entries = self._entries.get(key)
        if not entries:
            return None
        self._entries.move_to_end(key)
        self._drop_stale(key, entries)
        for entry in entries:
            if not entry.claimed and (prestarted := entry.ready()) is not None:
                entries.remove(entry)
                prestarted.taken = True
                return prestarted
        starting = next((e for e in entries if not e.claimed), None)
        if starting is None:
            return None
        starting.claimed = True
        try:
            found = await self._ready(starting)
        finally:
            starting.claimed = False
        if found is not None:
            if starting in entries:
                entries.remove(starting)
            found.taken = True
        else:
            self._drop_stale(key, entries)
        return found

    async def _ready(self, entry: _Entry) -> Prestarted | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        with contextlib.suppress(Exception):  # a failed start is _fill's to report
            await asyncio.wait_for(asyncio.shield(entry.start), self._wait)
        while entry.start.done() and loop.time() < deadline:
            if (prestarted := entry.ready()) is not None:
                return prestarted
            if entry.start.cancelled() or entry.start.exception() is not None or entry.start.result().gone:
                return None
            await asyncio.sleep(POLL)
        return None

    def _drop_stale(self, key: PoolKey, entries: list[_Entry]) -> None:
        """Forgets entries whose start failed or whose container exited, and drops the ones that
        never became ready (their kind is then left alone a while)."""
        for entry in list(entries):
            if entry.claimed or not entry.start.done():
                continue
            if entry.start.cancelled() or entry.start.exception() is not None:
                entries.remove(entry)
                continue
            prestarted = entry.start.result()
            if prestarted.gone:
                entries.remove(entry)
                self._discard(prestarted)
            elif not prestarted.seen_ready and time.monotonic() - prestarted.started > READY_TIMEOUT:
                if prestarted.open():  # ready after all; closing without a word leaves it waiting
                    os.close(prestarted.fd)
                    prestarted.fd = -1
                    continue
                log.warning(
                    "pre-started container %s never became ready; dropping it", prestarted.docker_id[:12]
                )
                entries.remove(entry)
                self._discard(prestarted)
                self._resting[key] = time.monotonic() + RETRY_AFTER

    def refill(self, key: PoolKey) -> None:
        """Starts containers of `key` in the background until `size` of them wait or start."""
        if self._closed or self.size == 0 or self._resting.get(key, 0.0) > time.monotonic():
            return
        entries = self._entries.setdefault(key, [])
        self._entries.move_to_end(key)
        for _ in range(self.size - sum(1 for e in entries if not e.claimed)):
            task = asyncio.create_task(self._fill(key))
            task.add_done_callback(_retrieve)  # a failed start was logged by _fill
            entries.append(_Entry(start=task))
        while len(self._entries) > MAX_KINDS:
            _, dropped = self._entries.popitem(last=False)
            for entry in dropped:
                self._drop(entry)

    async def _fill(self, key: PoolKey) -> Prestarted:
        try:
            prestarted = await self._start(key)
        except Exception as exc:
            log.warning("could not pre-start a container of %s: %s", key.image, exc)
            self._resting[key] = time.monotonic() + RETRY_AFTER
            self._forget(key, lambda entry: entry.start is asyncio.current_task())
            raise
        return prestarted

    def ended(self, prestarted: Prestarted, last_words: str) -> None:
        """The runtime saw a pre-started container exit. Before it was taken, that means its kind
        cannot be pre-started (or someone removed it): left alone for a while."""
        prestarted.gone = True
        for key, entries in self._entries.items():
            for entry in entries:
                if entry.start.done() and not entry.start.cancelled() and entry.start.exception() is None:
                    if entry.start.result() is prestarted and not entry.claimed:
                        log.warning(
                            "pre-started container of %s exited before use; its kind is not pre-started "
                            "for %.0fs. Its last output: %s",
                            key.image,
                            RETRY_AFTER,
                            last_words or "(none)",
                        )
                        entries.remove(entry)
                        self._discard(prestarted)
                        self._resting[key] = time.monotonic() + RETRY_AFTER
                        return

    def _forget(self, key: PoolKey, match: Callable[[_Entry], bool]) -> None:
        entries = self._entries.get(key, [])
        entries[:] = [e for e in entries if not match(e)]

    def _drop(self, entry: _Entry) -> None:
        """Removes the entry's container, once started (a start is never cancelled half-way: the
        engine would make the container all the same)."""

        def started(task: asyncio.Task[Prestarted]) -> None:
            if not task.cancelled() and task.exception() is None:
                self._discard(task.result())

        entry.start.add_done_callback(started)

    async def close(self) -> None:
        self._closed = True
        entries = [entry for waiting in self._entries.values() for entry in waiting]
        self._entries.clear()
        for entry in entries:
            self._drop(entry)
        if entries:
            await asyncio.wait([entry.start for entry in entries], timeout=CLOSE_TIMEOUT)
