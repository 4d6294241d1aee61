"""A platform whose containers cannot be isolated says so loudly: at `berth up` and in `app list`."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.conftest import Platform, start_platform, stop_process, wait_until

pytestmark = pytest.mark.xdist_group("up")


def test_no_isolation_is_announced_at_start_and_in_app_list(tmp_path: Path) -> None:
    platform = start_platform(tmp_path / "home", {"BERTH_ISOLATION": "none"})
    try:
        assert "containers are NOT isolated" in platform.output.read_text()
        wait_until(
            lambda: "NOT isolated" in platform.berth("app", "list", timeout=60).stderr,
            "app list to warn that containers are not isolated",
            timeout=30,
        )
    finally:
        assert stop_process(platform.process, signal.SIGINT) == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="containers are isolated as root here; not root")
def test_an_isolated_platform_does_not_warn(platform: Platform) -> None:
    assert "containers isolated: none" not in platform.output.read_text()
    listed = platform.berth("app", "list", timeout=60)
    assert listed.returncode == 0 and "NOT isolated" not in listed.stderr, listed.stderr
