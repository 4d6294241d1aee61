"""The CLI around deploys: secrets, labels, docs, following logs."""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from berth.cli.config import load
from tests.e2e.conftest import BERTH, Platform, line_queue, stop_process

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.xdist_group("cli")


def test_secret_lifecycle_and_values_never_shown(platform: Platform) -> None:
    value = f"hello-{uuid.uuid4().hex}"
    missing = platform.berth("deploy", str(APPS / "needs_secret.py"))
    assert missing.returncode != 0 and "secret 'greeting-secret'" in missing.stderr, missing.stderr

    created = platform.berth("secret", "create", "greeting-secret", f"GREETING={value}")
    assert created.returncode == 0, created.stderr
    again = platform.berth("secret", "create", "greeting-secret", "GREETING=other")
    assert again.returncode != 0 and "already exists" in again.stderr and "--force" in again.stderr
    url = platform.deploy(APPS / "needs_secret.py")["greet"]
    assert platform.request("GET", url).json() == value

    listed = platform.berth("secret", "list")
    assert "greeting-secret" in listed.stdout and "GREETING" in listed.stdout
    forced = platform.berth("secret", "create", "greeting-secret", "GREETING=replaced", "--force")
    assert forced.returncode == 0, forced.stderr
    for result in (created, again, listed, forced):
        assert value not in result.stdout + result.stderr
    for log in (platform.home / "logs").glob("*.log"):
        assert value not in log.read_text(errors="replace"), log.name

    bad = platform.berth("secret", "create", "bad name", "K=V")
    assert bad.returncode != 0 and "secret name" in bad.stderr
    assert platform.berth("secret", "delete", "greeting-secret").returncode == 0
    assert "greeting-secret" not in platform.berth("secret", "list").stdout
    gone = platform.berth("secret", "delete", "greeting-secret")
    assert gone.returncode != 0 and "not found" in gone.stderr


def test_label_docs_and_label_clash(platform: Platform) -> None:
    url = platform.deploy(APPS / "labelled.py")["hello"]
    assert url == f"http://local--my-api.localhost:{platform.port}/"
    assert platform.request("GET", url).json() == "labelled"
    assert platform.request("GET", url, "/docs").status_code == 200
    assert platform.request("GET", url, "/openapi.json").json()["paths"]
    clash = platform.berth("deploy", str(APPS / "label_thief.py"))
    assert clash.returncode != 0 and "already used by app 'labelled'" in clash.stderr, clash.stderr
    assert platform.request("GET", url).json() == "labelled"


def test_docs_are_off_by_default(platform: Platform) -> None:
    url = platform.deploy(APPS / "short_lived.py")["pid"]
    assert platform.request("GET", url, "/docs").status_code == 404


def test_logs_follow_shows_new_output(platform: Platform) -> None:
    url = platform.deploy(APPS / "labelled.py")["hello"]
    follow = subprocess.Popen(
        [BERTH, "app", "logs", "labelled", "-f"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=platform.env,
    )
    lines = line_queue(follow.stdout)
    try:
        marker = uuid.uuid4().hex
        assert platform.request("GET", url, f"/?marker={marker}").status_code == 200
        deadline = time.monotonic() + 30
        seen = []
        while not any(marker in line for line in seen):
            assert time.monotonic() < deadline, f"marker never followed; saw {seen[-5:]}"
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                assert follow.poll() is None, "berth app logs -f exited"
    finally:
        stop_process(follow)


def test_app_list_all_shows_stopped_apps_and_json_parses(platform: Platform, tmp_path: Path) -> None:
    name = f"listed-{uuid.uuid4().hex[:8]}"
    source = (APPS / "short_lived.py").read_text().replace('"short-lived"', f'"{name}"')
    (tmp_path / "listed.py").write_text(source)  # same image as short_lived.py: a cache hit
    platform.deploy(tmp_path / "listed.py")

    def listed(*flags: str) -> dict[str, dict[str, object]]:
        result = platform.berth("app", "list", "--json", *flags, timeout=60)
        assert result.returncode == 0, result.stderr
        return {app["name"]: app for app in json.loads(result.stdout)}

    serving = listed()[name]
    assert serving["state"] == "deployed" and serving["urls"], serving
    assert platform.berth("app", "stop", name, timeout=60).returncode == 0
    assert name not in listed()
    stopped = listed("--all")[name]
    assert stopped["state"] == "stopped" and stopped["version"] == serving["version"], stopped
    table = platform.berth("app", "list", "--all", timeout=60)
    row = next(line for line in table.stdout.splitlines() if line.startswith(name))
    assert row.split()[:3] == [name, str(serving["version"]), "stopped"]
    assert "\033[" not in table.stdout  # piped: no colour
    for command in (["secret", "list"], ["token", "list"], ["proxy-auth", "list"], ["container", "list"]):
        result = platform.berth(*command, "--json", timeout=60)
        assert result.returncode == 0, result.stderr
        assert isinstance(json.loads(result.stdout), list), command


def test_login_checks_the_token_then_writes_the_config(platform: Platform, tmp_path: Path) -> None:
    server = load(platform.home).server
    token = load(platform.home).token
    env = {**platform.env, "BERTH_HOME": str(tmp_path / "client")}

    edge = f"http://localhost:{platform.port}"

    def login(secret: str) -> subprocess.CompletedProcess[str]:
        argv = [BERTH, "login", "--server", server, "--token", "-", "--edge", edge]
        return subprocess.run(argv, input=secret, capture_output=True, text=True, timeout=60, env=env)

    refused = login("bt_not-a-token")
    assert refused.returncode != 0 and "refused the token" in refused.stderr, refused.stderr
    assert not (tmp_path / "client" / "config.toml").exists()
    accepted = login(token + "\n")
    assert accepted.returncode == 0 and f"logged in to {server}" in accepted.stderr, accepted.stderr
    assert token not in accepted.stdout + accepted.stderr
    listed = subprocess.run(
        [BERTH, "app", "list", "--json"], capture_output=True, text=True, timeout=60, env=env
    )
    assert listed.returncode == 0 and isinstance(json.loads(listed.stdout), list), listed.stderr


def test_up_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        up = subprocess.run(
            [BERTH, "up", "--port", str(port), "--home", str(tmp_path / "home")],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    assert up.returncode != 0
    assert up.stdout == ""
    assert up.stderr.count("\n") == 1, up.stderr
    assert f"port {port} on 127.0.0.1 is already in use" in up.stderr and "--port" in up.stderr
