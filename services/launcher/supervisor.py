"""Keeps `berth up`'s services running: a child that exits is started again, soon the first time and
with exponential backoff while it keeps dying, and every exit is logged with its status.

The policy (`next_restart`, `describe_exit`) is pure so it can be read and tested on its own; the
`Supervisor` only polls its children and carries the policy out. Polling (every POLL seconds) rather
than SIGCHLD keeps signal handling to the one place that owns it (`run_up`, for Ctrl-C/SIGTERM).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from services.common import logs

log = logging.getLogger("berth.up")

POLL = 0.1
STOP_GRACE = 15.0


@dataclass(frozen=True)
class RestartPolicy:
    """How soon a dead service is started again."""

    first_delay: float = 0.5  # the first restart comes quickly: a single crash costs little
    factor: float = 2.0
    max_delay: float = 5.0  # a service that keeps dying is still retried every few seconds
    stable_after: float = 10.0  # up this long, a child's next exit counts as its first again


def next_restart(policy: RestartPolicy, streak: int, uptime: float) -> tuple[float, int]:
    """(seconds to wait before the restart, the new streak) for a child that ran `uptime` seconds
    and had already been restarted `streak` times in a row without staying up."""
    if uptime >= policy.stable_after:
        streak = 0
    delay = min(policy.first_delay * policy.factor**streak, policy.max_delay)
    return delay, streak + 1


def describe_exit(returncode: int) -> tuple[int, str]:
    """(the exit status as a shell shows it, its meaning) for a Popen return code: a child killed
    by signal 9 has returncode -9, which a shell reports as status 137."""
    if returncode < 0:
        signum = -returncode
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = "unknown"
        return 128 + signum, f"signal {signum}, {name}"
    return returncode, "exited by itself"


def _die_with_parent() -> None:
    # If `berth up` is killed outright, its services must not linger: the kernel sends SIGTERM.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


@dataclass
class Child:
    """One service process. `argv` is called at every start, so a restart can differ from the
    first start (a port the OS picked the first time is asked for explicitly afterwards)."""

    name: str
    argv: Callable[[], list[str]]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    pid_file: Path | None = None
    # A file the child writes once it serves (services/common/readiness.py); removed before each
    # restart so the supervisor can tell when the new process is ready.
    ready_file: Path | None = None
    probe: Callable[[], bool] | None = None  # readiness for a child without a ready file (NATS)
    pass_fds: tuple[int, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    starts: int = 0

    def start(self) -> None:
        if self.ready_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.ready_file.unlink()
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv(),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                pass_fds=self.pass_fds,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - needed for PR_SET_PDEATHSIG
            )
        self.started_at = time.monotonic()
        self.starts += 1
        if self.pid_file is not None:
            self.pid_file.parent.mkdir(parents=True, exist_ok=True)
            self.pid_file.write_text(f"{self.process.pid}\n")

    @property
    def pid(self) -> int:
        return self.process.pid if self.process is not None else 0

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ready(self) -> bool:
        if not self.alive():
            return False
        if self.ready_file is not None and not self.ready_file.exists():
            return False
        return self.probe is None or self.probe()

    def stop(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.terminate()
            try:
                self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.pid_file is not None:
            with contextlib.suppress(FileNotFoundError):
                self.pid_file.unlink()

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class _Watch:
    child: Child
    streak: int = 0
    restart_at: float | None = None  # when a dead child is due to start again
    died_at: float = 0.0
    awaiting_ready: bool = False


class Supervisor:
    """Restarts children that exit, until `stop()`. Call `poll()` regularly (run_up does)."""

    def __init__(self, policy: RestartPolicy | None = None) -> None:
        self.policy = policy or RestartPolicy()
        self._watches: list[_Watch] = []
        self._stopping = False

    @property
    def children(self) -> list[Child]:
        return [w.child for w in self._watches]

    def add(self, child: Child) -> Child:
        """Starts `child` and watches it from now on."""
        child.start()
        self._watches.append(_Watch(child))
        return child

    def poll(self, now: float | None = None) -> None:
        """Notices exits, starts children whose backoff is over, logs restarted ones once ready."""
        if self._stopping:
            return
        now = time.monotonic() if now is None else now
        for watch in self._watches:
            child = watch.child
            if watch.restart_at is not None:
                if now >= watch.restart_at:
                    watch.restart_at = None
                    self._restart(watch)
                continue
            if child.alive():
                if watch.awaiting_ready and child.ready():
                    watch.awaiting_ready = False
                    logs.event(
                        log,
                        f"{child.name} is serving again",
                        service=child.name,
                        pid=child.pid,
                        down_seconds=f"{now - watch.died_at:.2f}",
                    )
                continue
            self._exited(watch, now)

    def _exited(self, watch: _Watch, now: float) -> None:
        child = watch.child
        assert child.process is not None
        status, meaning = describe_exit(child.process.returncode)
        uptime = now - child.started_at
        delay, watch.streak = next_restart(self.policy, watch.streak, uptime)
        watch.restart_at = now + delay
        watch.died_at = now
        logs.event(
            log,
            f"{child.name} exited with status {status} ({meaning}); restarting in {delay:g} s",
            logging.WARNING,
            service=child.name,
            pid=child.pid,
            status=status,
            uptime_seconds=f"{uptime:.1f}",
            restarts_in_a_row=watch.streak,
        )

    def _restart(self, watch: _Watch) -> None:
        child = watch.child
        try:
            child.start()
        except OSError as exc:
            # Could not even spawn it (e.g. out of processes): count it as another quick death.
            delay, watch.streak = next_restart(self.policy, watch.streak, 0.0)
            watch.restart_at = time.monotonic() + delay
            logs.event(
                log,
                f"{child.name} could not be started: {exc}; retrying in {delay:g} s",
                logging.ERROR,
                service=child.name,
            )
            return
        watch.awaiting_ready = True
        logs.event(log, f"{child.name} restarted", service=child.name, pid=child.pid, start=child.starts)

    def stop(self) -> None:
        """Stops every child, the last added first; none is restarted after this."""
        self._stopping = True
        for watch in reversed(self._watches):
            watch.child.stop()


def setup_logging() -> None:
    """Supervision events go to `berth up`'s stderr as key=value lines, INFO and up whatever the
    services' BERTH_LOG_LEVEL: an operator should see every restart and recovery."""
    logs.setup("up")
    log.setLevel(logging.INFO)
