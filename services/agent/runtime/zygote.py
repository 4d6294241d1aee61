"""Zygotes, the agent's side: pre-imported interpreters that fork process-runtime containers.

One zygote (`python -m berth._runtime.zygote`, see there) runs per image interpreter and start-up
environment, started on the first container that needs it and kept while the agent runs (zygotes of
images no longer used stay too: one idle process each, ~40-60 MB). A zygote that died is started
again on the next launch; one that failed to start is not retried for RETRY_AFTER seconds, and the
runtime starts fresh interpreters meanwhile.

The agent talks to each over a unix socket pair (berth._wire.zygote). A fork request sends
the container's stdin, stdout and stderr as SCM_RIGHTS; the zygote answers with the child's pid
and later reports its exit code. The child is the zygote's, not the agent's: its exit code comes
from that report, and if the zygote dies first, a pidfd tells when the child ends.
"""

from __future__ import annotations

import array
import asyncio
import collections
import contextlib
import itertools
import logging
import os
import socket
import time
from collections.abc import Iterable, Mapping

from berth._wire.codec import WireError, encode
from berth._wire.zygote import ENVIRON_SPACE, ENVIRON_SPACE_VARIABLE, decoder
from berth.v1 import zygote_pb2
from services.common import logs

log = logging.getLogger("berth.agent")

START_TIMEOUT = 60.0
FORK_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
RETRY_AFTER = 60.0
# The exit code of a container whose zygote died before reporting it (the real one is unknowable).
LOST_EXIT_CODE = -1
# Variables that shape an interpreter as it starts (with every PYTHON* but PYTHONPATH, which a
# child applies itself): containers share a zygote only when they agree on all of them.
_STARTUP_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")


class ZygoteUnavailable(Exception):
    """The zygote could not start or fork; the runtime starts a fresh interpreter instead."""


def startup_env(env: Mapping[str, str]) -> dict[str, str]:
    """The part of a container's environment its zygote is started with (nothing container-specific)."""
    return {
        k: v for k, v in env.items() if (k.startswith("PYTHON") and k != "PYTHONPATH") or k in _STARTUP_ENV
    }


def shadowing(directories: Iterable[str], modules: Iterable[str]) -> str:
    """A file in `directories` that a fresh interpreter would import instead of a preloaded module."""
    wanted = set(modules)
    for directory in directories:
        try:
            names = os.listdir(directory)
        except OSError:
            continue
        for name in names:
            if name.split(".", 1)[0] in wanted:
                return os.path.join(directory, name)
    return ""


class Zygote:
    """One running zygote process and the connection to it."""

    def __init__(self, python: str, env: Mapping[str, str]) -> None:
        self.python = python
        self.env = dict(env)
        self.modules: frozenset[str] = frozenset()
        self.pid = 0
        self.alive = False
        self._process: asyncio.subprocess.Process | None = None
        self._sock: socket.socket | None = None
        self._decoder = decoder()
        self._ids = itertools.count(1)
        self._ready: asyncio.Future[zygote_pb2.ZygoteReady] | None = None
        self._pending: dict[int, asyncio.Future[zygote_pb2.ZygoteForked]] = {}
        self._exits: dict[int, asyncio.Future[int]] = {}
        self._send_lock = asyncio.Lock()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=20)
        self._stderr_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self._process = await asyncio.create_subprocess_exec(
                self.python,
                "-m",
                "berth._runtime.zygote",
                "--fd",
                str(theirs.fileno()),
                pass_fds=(theirs.fileno(),),
                env={**self.env, ENVIRON_SPACE_VARIABLE: "." * ENVIRON_SPACE},
                cwd="/",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                # Out of the agent's process group: a terminal's Ctrl-C reaches the agent, which
                # closes the socket; the zygote ends on that.
                start_new_session=True,
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.pid = self._process.pid
        self._sock = ours
        ours.setblocking(False)
        self._ready = loop.create_future()
        self.alive = True
        loop.add_reader(ours.fileno(), self._readable)
        assert self._process.stderr is not None
        self._stderr_task = asyncio.create_task(self._pump_stderr(self._process.stderr))
        try:
            ready = await asyncio.wait_for(asyncio.shield(self._ready), START_TIMEOUT)
        except TimeoutError:
            raise ZygoteUnavailable(f"it was not ready within {START_TIMEOUT:.0f}s") from None
        self.modules = frozenset(ready.modules)

    async def _pump_stderr(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            text = line.decode(errors="replace").rstrip()
            self._stderr_tail.append(text)
            logs.event(log, "zygote stderr", logging.WARNING, python=self.python, line=text)

    def _readable(self) -> None:
        assert self._sock is not None
        try:
            data = self._sock.recv(1 << 16)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._lost("it closed its socket")
            return
        try:
            messages = self._decoder.feed(data)
        except WireError as exc:
            self._lost(str(exc))
            return
        for message in messages:
            self._dispatch(message)

    def _dispatch(self, message: zygote_pb2.ZygoteMessage) -> None:
        kind = message.WhichOneof("kind")
        if kind == "ready" and self._ready is not None and not self._ready.done():
            self._ready.set_result(message.ready)
        elif kind == "forked":
            forked = message.forked
            if forked.pid:
                # Registered before anything else is read: the child's exit comes after this reply.
                self._exits[forked.pid] = asyncio.get_running_loop().create_future()
            waiter = self._pending.pop(forked.request_id, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(forked)
        elif kind == "exit":
            exited = self._exits.pop(message.exit.pid, None)
            if exited is not None and not exited.done():
                exited.set_result(message.exit.exit_code)

    def _lost(self, why: str) -> None:
        """The connection is gone: fail what waits on it, and watch orphaned children by pidfd."""
        if not self.alive:
            return
        self.alive = False
        self._close_socket()
        tail = "; ".join(self._stderr_tail)
        error = ZygoteUnavailable(
            f"the zygote (pid {self.pid}) is gone: {why}" + (f": {tail}" if tail else "")
        )
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(error)
            self._ready.exception()  # retrieved here too, so an abandoned start logs nothing
        for waiter in self._pending.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._pending.clear()
        for pid, exited in self._exits.items():
            _watch_orphan(pid, exited)
        self._exits.clear()

    def _close_socket(self) -> None:
        if self._sock is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    async def fork(
        self, env: Mapping[str, str], cwd: str, *, isolate_network: bool, fds: tuple[int, int, int]
    ) -> tuple[int, asyncio.Future[int]]:
        """Forks a container with `fds` as its stdin, stdout, stderr; returns its pid and exit code."""
        if not self.alive:
            raise ZygoteUnavailable(f"the zygote (pid {self.pid}) is gone")
        request_id = next(self._ids)
        waiter: asyncio.Future[zygote_pb2.ZygoteForked] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = waiter
        request = zygote_pb2.ZygoteFork(
            request_id=request_id, env=env, cwd=cwd, isolate_network=isolate_network
        )
        try:
            await self._send(encode(zygote_pb2.ZygoteMessage(fork=request)), fds)
            forked = await asyncio.wait_for(asyncio.shield(waiter), FORK_TIMEOUT)
        except TimeoutError:
            # A zygote that does not answer is of no use; the next launch starts a new one.
            await self.close()
            raise ZygoteUnavailable(
                f"the zygote (pid {self.pid}) did not fork within {FORK_TIMEOUT:.0f}s"
            ) from None
        except OSError as exc:
            self._lost(f"sending to it failed: {exc}")
            raise ZygoteUnavailable(f"the zygote (pid {self.pid}) is gone: {exc}") from exc
        finally:
            self._pending.pop(request_id, None)
        if forked.error:
            raise ZygoteUnavailable(forked.error)
        exited = self._exits.get(forked.pid)
        if exited is None:  # the zygote died right after answering
            exited = asyncio.get_running_loop().create_future()
            _watch_orphan(forked.pid, exited)
        return forked.pid, exited

    async def _send(self, data: bytes, fds: tuple[int, ...]) -> None:
        """Writes one message; `fds` ride with its first byte."""
        loop = asyncio.get_running_loop()
        async with self._send_lock:
            view = memoryview(data)
            rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))] if fds else []
            while view:
                if self._sock is None:
                    raise ConnectionResetError("the zygote's socket is closed")
                try:
                    sent = self._sock.sendmsg([view], rights)
                except (BlockingIOError, InterruptedError):
                    writable: asyncio.Future[None] = loop.create_future()
                    loop.add_writer(self._sock.fileno(), writable.set_result, None)
                    try:
                        await writable
                    finally:
                        loop.remove_writer(self._sock.fileno())
                    continue
                rights = []
                view = view[sent:]

    async def close(self) -> None:
        """Ends the zygote: closing its socket makes it exit; SIGKILL if it does not in time."""
        self._lost("the agent closed it")
        process = self._process
        if process is not None and process.returncode is None:
            try:
                await asyncio.wait_for(process.wait(), CLOSE_TIMEOUT)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        if self._stderr_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._stderr_task, 1.0)


def _watch_orphan(pid: int, exited: asyncio.Future[int]) -> None:
    """Resolves `exited` with LOST_EXIT_CODE once `pid` ends (no longer our zygote's child)."""
    if exited.done():
        return
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # already gone (or no pidfd on this kernel)
        exited.set_result(LOST_EXIT_CODE)
        return
    loop = asyncio.get_running_loop()

    def ended() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        if not exited.done():
            exited.set_result(LOST_EXIT_CODE)

    loop.add_reader(pidfd, ended)


class Zygotes:
    """The zygotes of this agent, one per (image python, start-up environment), started lazily."""

    def __init__(self) -> None:
        self._running: dict[tuple[str, tuple[tuple[str, str], ...]], Zygote] = {}
        self._starting: dict[tuple[str, tuple[tuple[str, str], ...]], asyncio.Task[Zygote]] = {}
        self._failed: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}

    async def get(self, python: str, env: Mapping[str, str]) -> Zygote | None:
        """The running zygote for `python` and `env`, started (and waited for) if needed; None when
        it cannot start (the reason is logged once per attempt)."""
        key = (python, tuple(sorted(env.items())))
        zygote = self._running.get(key)
        if zygote is not None:
            if zygote.alive:
                return zygote
            del self._running[key]
            logs.event(log, "zygote died; starting another", logging.WARNING, python=python, pid=zygote.pid)
            await zygote.close()
        failed = self._failed.get(key)
        if failed is not None and time.monotonic() - failed < RETRY_AFTER:
            return None
        task = self._starting.get(key)
        if task is None:
            task = asyncio.create_task(self._start(key, python, env))
            self._starting[key] = task
        try:
            return await asyncio.shield(task)
        except ZygoteUnavailable:
            return None

    async def _start(
        self, key: tuple[str, tuple[tuple[str, str], ...]], python: str, env: Mapping[str, str]
    ) -> Zygote:
        began = time.monotonic()
        zygote = Zygote(python, env)
        try:
            await zygote.start()
        except BaseException as exc:
            self._failed[key] = time.monotonic()
            await zygote.close()
            logs.event(
                log,
                "zygote unavailable; containers start fresh interpreters",
                logging.WARNING,
                python=python,
                reason=f"{type(exc).__name__}: {exc}",
                retry_after=f"{RETRY_AFTER:.0f}s",
            )
            if isinstance(exc, Exception) and not isinstance(exc, ZygoteUnavailable):
                raise ZygoteUnavailable(str(exc)) from exc
            raise
        finally:
            self._starting.pop(key, None)
        self._failed.pop(key, None)
        self._running[key] = zygote
        logs.event(
            log,
            "zygote ready",
            python=python,
            pid=zygote.pid,
            seconds=f"{time.monotonic() - began:.3f}",
            modules=len(zygote.modules),
        )
        return zygote

    async def close(self) -> None:
        for task in list(self._starting.values()):
            task.cancel()
        zygotes = list(self._running.values())
        self._running.clear()
        await asyncio.gather(*(z.close() for z in zygotes), return_exceptions=True)
