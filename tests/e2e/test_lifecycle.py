"""Container lifecycle as users see it in `berth app logs`: enter, exit and lifespan hooks run
once per container, and the shutdown ones run when the container scales down."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Platform, container_pids, wait_until

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.xdist_group("lifecycle")


def test_hooks_run_once_and_shutdown_hooks_run_on_scale_down(platform: Platform) -> None:
    urls = platform.deploy(APPS / "hooks.py")
    counter, lifespan = urls["Counter.next"], urls["with_lifespan"]
    assert [platform.request("GET", counter, "/?start=10").json() for _ in range(3)] == [11, 12, 13]
    assert platform.request("GET", lifespan).json() == "up"
    wait_until(lambda: not container_pids(platform, "hooks"), "both containers to scale down", timeout=60)
    logs = platform.logs("hooks")
    assert logs.count("enter ran with start=10") == 1, logs
    assert "exit ran after 3 requests" in logs, logs
    assert logs.count("lifespan startup") == 1 and "lifespan shutdown" in logs, logs
    # Each line carries a timestamp and names its function (with its parameters) and container.
    line = next(line for line in logs.splitlines() if "exit ran after" in line)
    stamp, function, container, stream = line.split(" ", 4)[:4]
    assert stamp[:4].isdigit() and function == "Counter.next[start=10]"
    assert container.startswith("c") and stream == "stdout:"
