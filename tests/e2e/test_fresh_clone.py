"""The README's first command on a fresh copy of the tree: `scripts/up` installs everything into a
new .venv and starts the platform; then a deploy and a plain `curl` of the printed URL work."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import REPO, stop_process

pytestmark = pytest.mark.xdist_group("fresh-clone")

INSTALL_AND_START = 600.0


def _copy_tree(dest: Path) -> None:
    """The files a clone would have: tracked ones plus new ones not ignored (so an uncommitted
    change is tested too), never .venv or caches."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            target = dest / name.decode()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_scripts_up_then_curl_from_a_fresh_copy(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    _copy_tree(clone)
    assert not (clone / ".venv").exists()
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "VIRTUAL_ENV"))}
    env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
    output = tmp_path / "up.out"
    with output.open("w") as out:
        up = subprocess.Popen(
            [str(clone / "scripts" / "up"), "--port", "0", "--home", str(home)],
            cwd=clone,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + INSTALL_AND_START
        while "Berth is up." not in output.read_text():
            assert up.poll() is None, f"scripts/up exited with {up.returncode}:\n{output.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"scripts/up not up within {INSTALL_AND_START:.0f}s"
            time.sleep(0.2)
        said = output.read_text()
        # It says what it does (one line a step) and nothing of setuptools' editable-install notice.
        assert "berth: installing Berth" in said and "berth: starting the platform" in said, said[:3000]
        assert "Editable installation" not in said and "setuptools" not in said, said[:3000]
        berth = clone / ".venv" / "bin" / "berth"
        deployed = subprocess.run(
            [str(berth), "deploy", str(clone / "examples" / "hello.py")],
            capture_output=True,
            text=True,
            timeout=300,
            env={**env, "BERTH_HOME": str(home)},
        )
        assert deployed.returncode == 0, deployed.stderr
        url = re.search(r"^f: (\S+)$", deployed.stdout, re.M).group(1)  # type: ignore[union-attr]
        curl = subprocess.run(
            ["curl", "-sS", "--max-time", "60", url], capture_output=True, text=True, timeout=90
        )
        assert curl.returncode == 0, curl.stderr
        assert curl.stdout == '"Hello world!"'
    finally:
        assert stop_process(up, signal.SIGINT) == 0, output.read_text()[-3000:]
