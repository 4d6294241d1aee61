"""The CLI around deploys: secrets, labels, docs, following logs."""

from __future__ import annotations

import queue
import subprocess
import time
import uuid
from pathlib import Path

import pytest

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
