"""A home made before the bus had credentials keeps working: `berth up` makes them on first start,
and apps, secrets and the CLI's token survive."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

import pytest

from services.common import credentials
from tests.e2e.conftest import EXAMPLES, start_platform, stop_process

pytestmark = pytest.mark.xdist_group("up")


def _token_line(home: Path) -> str:
    return next(line for line in (home / "config.toml").read_text().splitlines() if line.startswith("token"))


def test_a_home_without_credentials_is_upgraded_in_place(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = start_platform(home)
    try:
        url = first.deploy(EXAMPLES / "hello.py")["f"]
        assert first.berth("secret", "create", "kept", "K=v").returncode == 0
    finally:
        assert stop_process(first.process, signal.SIGINT) == 0
    token = _token_line(home)
    # What a home looked like before: no credentials, an open nats-server config.
    shutil.rmtree(credentials.directory(home))
    (home / "nats.conf").write_text("max_payload: 4194304\n")

    second = start_platform(home)
    try:
        assert _token_line(home) == token  # the CLI keeps its API token
        assert credentials.seed_file(home, credentials.SCHEDULER).exists()
        listed = second.berth("app", "list")
        assert listed.returncode == 0 and "hello" in listed.stdout, listed.stderr
        assert "kept" in second.berth("secret", "list").stdout
        response = second.request("GET", url.replace(str(first.port), str(second.port)))
        assert response.status_code == 200 and response.json() == "Hello world!"
    finally:
        assert stop_process(second.process, signal.SIGINT) == 0
