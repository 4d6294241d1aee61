"""`berth serve`: -dev URLs, live update on save, coexistence with a deployment, clean Ctrl-C."""

from __future__ import annotations

import queue
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import BERTH, Platform, container_pids, line_queue, stop_process, wait_until

pytestmark = pytest.mark.xdist_group("serve")

SOURCE = """
import berth

app = berth.App("live-app", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint()
def f():
    from helper import ANSWER

    return ANSWER
"""


def test_serve_updates_on_save_and_cleans_up(platform: Platform, tmp_path: Path) -> None:
    app_file = tmp_path / "live.py"
    app_file.write_text(SOURCE)
    (tmp_path / "helper.py").write_text('ANSWER = "v1"\n')
    deployed = platform.deploy(app_file)["f"]
    (tmp_path / "helper.py").write_text('ANSWER = "dev v1"\n')
    serve = subprocess.Popen(
        [BERTH, "serve", str(app_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=platform.env,
    )
    lines = line_queue(serve.stdout)
    try:
        url = ""
        seen = []
        deadline = time.monotonic() + 120
        while not url and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert serve.poll() is None, "".join(seen)
                continue
            seen.append(line)
            found = re.match(r"^f: (\S+)$", line.strip())
            url = found.group(1) if found else ""
        assert url.startswith("http://local--live-app-f-dev.localhost:"), "".join(seen)
        first = platform.request("GET", url)
        assert first.status_code == 200 and first.json() == "dev v1", (
            first.status_code,
            first.text,
            "".join(seen),
        )
        assert platform.request("GET", deployed).json() == "v1"  # the deployed app is untouched

        (tmp_path / "helper.py").write_text('ANSWER = "dev v2"\n')  # a local module, not the app file
        wait_until(
            lambda: platform.request("GET", url).json() == "dev v2", "the edit to be served", timeout=60
        )
        assert platform.request("GET", deployed).json() == "v1"
    finally:
        code = stop_process(serve, signal.SIGINT)
    assert code == 0
    assert platform.request("GET", url).status_code == 404
    wait_until(
        lambda: not container_pids(platform, "live-app", ephemeral=True), "the served app's containers to end"
    )
    assert platform.request("GET", deployed).json() == "v1"
