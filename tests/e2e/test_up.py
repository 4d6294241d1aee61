"""`berth up` failing clearly: a service that dies while starting, a second `up` on one home."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import BERTH, Platform, runner_processes

pytestmark = pytest.mark.xdist_group("up")


def test_a_service_dying_at_start_up_is_reported_and_everything_stops(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env["BERTH_SECRET_KEY"] = "not-a-key"
    result = subprocess.run(
        [BERTH, "up", "--port", "0", "--home", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    assert "scheduler exited during start-up" in result.stderr
    assert "BERTH_SECRET_KEY must be" in result.stderr
    assert not runner_processes(tmp_path, with_children=True)
    assert not _processes_mentioning(str(tmp_path)), "services of the failed berth up are still running"


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and text.encode() in (proc / "cmdline").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_second_up_on_the_same_home_is_refused(platform: Platform) -> None:
    result = platform.berth("up", "--port", "0", "--home", str(platform.home), timeout=60)
    assert result.returncode == 1
    assert "already running" in result.stderr
