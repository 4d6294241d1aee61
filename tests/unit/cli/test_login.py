"""`berth login` against an API that is not there: the config is written, with a warning; bad
input is refused before anything is written. (The token check itself: tests/e2e/test_cli.py.)"""

from __future__ import annotations

import io
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from berth._errors import InvalidError
from berth.cli.config import ClientConfig, load
from berth.cli.login import login, read_token


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_login_writes_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BERTH_SERVER", "BERTH_TOKEN", "BERTH_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    server = f"127.0.0.1:{_closed_port()}"
    done = subprocess.run(
        [sys.executable, "-m", "berth.cli.main", "login", "--server", server, "--token", "-"]
        + ["--edge", "http://localhost:8000/", "--home", str(tmp_path / "home")],
        input="bt_secret\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "did not answer" in done.stderr and "bt_secret" not in done.stderr + done.stdout
    path = tmp_path / "home" / "config.toml"
    assert load(tmp_path / "home") == ClientConfig(
        server=server, token="bt_secret", edge_url="http://localhost:8000"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().startswith("# Written by `berth login`")


def test_refused_input_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidError, match="not HOST:PORT"):
        login(ClientConfig(server="localhost", token="t"), tmp_path)
    with pytest.raises(InvalidError, match="not a URL"):
        login(ClientConfig(server="localhost:1", token="t", edge_url="localhost:8000"), tmp_path)
    assert not (tmp_path / "config.toml").exists()
    with pytest.raises(InvalidError, match="the token is empty"):
        read_token("-", io.StringIO("\n"))
    assert read_token("-", io.StringIO("bt_x\n")) == "bt_x"
