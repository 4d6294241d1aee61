"""A killed agent's containers are ended by its successor: real processes, real signals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from services.agent.runtime.leftovers import Ledger


def _sleeper() -> subprocess.Popen[bytes]:
    # A process group of its own, as containers have.
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)


def test_a_successor_ends_what_a_previous_run_noted_and_left_alive(tmp_path: Path) -> None:
    left = _sleeper()
    try:
        Ledger(tmp_path).add("cleftover0001", left.pid)  # the previous run, then killed
        ended = Ledger(tmp_path).end_leftovers()  # its successor, at start
        assert ended == ["cleftover0001"]
        assert left.wait(timeout=10) < 0  # killed by a signal
        assert not list(tmp_path.iterdir())
    finally:
        left.kill()


def test_an_ended_container_is_forgotten_and_a_reused_pid_is_never_killed(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path)
    done = _sleeper()
    ledger.add("cgone00000001", done.pid)
    ledger.remove("cgone00000001")
    assert not list(tmp_path.iterdir())
    done.kill()
    done.wait(timeout=10)

    bystander = _sleeper()
    try:
        # A note whose pid now belongs to another process (its start time differs).
        (tmp_path / "cstale0000001").write_text(f"{bystander.pid} 1\n")
        assert Ledger(tmp_path).end_leftovers() == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait(timeout=10)
