"""The restart policy of `berth up` (services/launcher/supervisor.py) and the supervisor carrying
it out on real child processes."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import pytest

from services.launcher.supervisor import (
    Child,
    RestartPolicy,
    Supervisor,
    describe_exit,
    next_restart,
)

POLICY = RestartPolicy(first_delay=0.5, factor=2.0, max_delay=5.0, stable_after=10.0)


def test_backoff_doubles_while_a_child_keeps_dying_and_is_capped() -> None:
    delays = []
    streak = 0
    for _ in range(7):
        delay, streak = next_restart(POLICY, streak, uptime=0.3)
        delays.append(delay)
    assert delays == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]


def test_a_child_that_stayed_up_restarts_as_quickly_as_the_first_time() -> None:
    _, streak = next_restart(POLICY, 0, uptime=0.1)
    _, streak = next_restart(POLICY, streak, uptime=0.1)
    delay, streak = next_restart(POLICY, streak, uptime=POLICY.stable_after)
    assert (delay, streak) == (0.5, 1)


def test_exit_status_reads_as_a_shell_shows_it() -> None:
    assert describe_exit(-9) == (137, "signal 9, SIGKILL")
    assert describe_exit(-15) == (143, "signal 15, SIGTERM")
    assert describe_exit(3) == (3, "exited by itself")


def test_supervisor_restarts_a_killed_child_with_a_new_pid_and_logs_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="berth.up")
    ready = tmp_path / "child.ready"
    script = f"import pathlib, time; pathlib.Path({str(ready)!r}).write_text('x'); time.sleep(60)"
    child = Child(
        "sleeper",
        lambda: [sys.executable, "-c", script],
        tmp_path / "sleeper.log",
        pid_file=tmp_path / "sleeper.pid",
        ready_file=ready,
    )
    supervisor = Supervisor(RestartPolicy(first_delay=0.1, stable_after=60.0))
    supervisor.add(child)
    try:
        first = child.pid
        assert int((tmp_path / "sleeper.pid").read_text()) == first
        assert child.process is not None
        child.process.kill()
        child.process.wait(5)
        deadline = time.monotonic() + 10
        while not (child.pid != first and child.ready()) and time.monotonic() < deadline:
            supervisor.poll()
            time.sleep(0.02)
        supervisor.poll()
        assert child.pid != first and child.ready(), "the child was not started again"
        assert int((tmp_path / "sleeper.pid").read_text()) == child.pid
        messages = [r.getMessage() for r in caplog.records]
        assert "sleeper exited with status 137 (signal 9, SIGKILL); restarting in 0.1 s" in messages
        assert "sleeper is serving again" in messages
    finally:
        supervisor.stop()
    assert not child.alive()
    assert not (tmp_path / "sleeper.pid").exists()


def test_a_stopped_supervisor_restarts_nothing(tmp_path: Path) -> None:
    child = Child("short", lambda: [sys.executable, "-c", "pass"], tmp_path / "short.log")
    supervisor = Supervisor(RestartPolicy(first_delay=0.0))
    supervisor.add(child)
    assert child.process is not None
    child.process.wait(10)
    supervisor.stop()
    supervisor.poll()
    supervisor.poll()
    assert child.starts == 1
