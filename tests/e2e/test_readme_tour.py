"""README.md's "A five-minute tour", run exactly as written against `berth up --port P --home H`.

The commands come from the README's fenced block, never from this file: each runs in a fresh
bash with the block's own `source`/`export` lines before it (the home substituted for
/tmp/berth, the port for 8000) and none of the test's BERTH_* settings, as a second terminal
would. What the README says a command prints is checked: a comment line under a command is a
line of its output, and an inline comment that starts like JSON (`# "Hello world!"`) is the
output itself. Each kind of command also gets the check its comment describes (the URL after a
deploy, the access line in `app logs`, 404 after `app stop`, stopped apps in `list --all --json`).
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from services.launcher import driver
from tests.e2e.conftest import REPO, Platform, send, stop_platform

README = REPO / "README.md"
TOUR_HEADING = "## A five-minute tour"
COMMAND_TIMEOUT = 600.0  # a deploy builds its image: packages from PyPI into a fresh home
README_PORT = "8000"
README_HOME = "/tmp/berth"


@dataclass
class Step:
    command: str
    note: str = ""  # the command's inline comment
    prints: list[str] = field(default_factory=list)  # comment lines under it: lines of its output


def tour_block(readme: str) -> str:
    """The first ```bash block after the tour's heading."""
    section = readme.split(TOUR_HEADING, 1)[1]
    return section.split("```bash\n", 1)[1].split("\n```", 1)[0]


def parse(block: str) -> tuple[list[str], list[Step]]:
    """The block's shell set-up (`source`/`export` lines) and its other commands, in order."""
    setup: list[str] = []
    steps: list[Step] = []
    for raw in block.splitlines():
        text = raw.strip()
        if not text:
            continue
        if text.startswith("#"):
            assert steps, f"an output comment before any command: {raw!r}"
            steps[-1].prints.append(text.lstrip("#").strip())
            continue
        commented = re.match(r"^(.*?)\s{2,}#\s*(.*)$", text)
        command, note = (commented.group(1), commented.group(2)) if commented else (text, "")
        if command.startswith(("source ", "export ")):
            setup.append(command)
        else:
            steps.append(Step(command, note.strip()))
    return setup, steps


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Tour:
    def __init__(self, platform: Platform, setup: list[str]) -> None:
        self.platform = platform
        self.port = str(platform.port)
        self.setup = [line.replace(README_HOME, str(platform.home)) for line in setup]
        # A second terminal: nothing of the test's own BERTH_* settings, only what the tour exports.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        self.urls: list[str] = []  # every URL a deploy printed

    def local(self, text: str) -> str:
        return text.replace(f":{README_PORT}", f":{self.port}")

    def run(self, command: str) -> subprocess.CompletedProcess[str]:
        script = "\n".join(["set -eo pipefail", *self.setup, command])
        return subprocess.run(
            ["bash", "-c", script],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            env=self.env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
        )


def _json_output(note: str) -> str:
    """`"Hello world!"  (first call boots a container)` -> `"Hello world!"`; "" for prose."""
    if not note.startswith(('"', "{", "[")):
        return ""
    return note.split("  ", 1)[0].strip()


Check = Callable[[Tour, Step, subprocess.CompletedProcess[str]], None]


def _deployed(tour: Tour, step: Step, done: subprocess.CompletedProcess[str]) -> None:
    urls = [found.group(1) for found in re.finditer(r"^\w+: (http://\S+)$", done.stdout, re.M)]
    assert urls, f"{step.command}: no URL printed:\n{done.stdout}"
    tour.urls += urls


def _curl(tour: Tour, step: Step, done: subprocess.CompletedProcess[str]) -> None:
    expected = _json_output(step.note)
    assert expected, f"{step.command}: the README gives no answer to expect ({step.note!r})"
    assert done.stdout.strip() == tour.local(expected), done.stdout


def _secret(tour: Tour, step: Step, done: subprocess.CompletedProcess[str]) -> None:
    value = step.command.split("echo ", 1)[1].split(" |", 1)[0]
    assert value not in done.stdout + done.stderr, "the secret's value was printed back"
    listed = tour.run("berth secret list --json")
    assert listed.returncode == 0, listed.stderr
    name = step.command.split("secret create ", 1)[1].split()[0]
    assert name in {entry["name"] for entry in json.loads(listed.stdout)}, listed.stdout


def _listed(tour: Tour, step: Step, done: subprocess.CompletedProcess[str]) -> None:
    for app in ("hello", "square"):
        assert app in done.stdout, done.stdout


def _logs(tour: Tour, step: Step, done: subprocess.CompletedProcess[str]) -> None:
    assert re.search(r" access: GET / 200 [\d.]+ms request [0-9a-f]{16}$", done.stdout, re.M), done.stdout


def _stopped(tour: Tour, step: Step, done: subprocess.CompletedProcess[str]) -> None:
    name = step.command.split("app stop ", 1)[1].split()[0]
    urls = [url for url in tour.urls if url.startswith(f"http://local--{name}-")]
    assert urls, f"no URL of {name} was printed by a deploy: {tour.urls}"
    with httpx.Client(timeout=30) as client:
        for url in urls:
            response = send(client, "GET", url)
            assert response.status_code == 404, f"{url} after stop: {response.status_code} {response.text}"


def _all_json(tour: Tour, step: Step, done: subprocess.CompletedProcess[str]) -> None:
    states = {app["name"]: app["state"] for app in json.loads(done.stdout)}
    assert states.get("hello") == "stopped", states
    assert states.get("square") not in (None, "stopped"), states


# Which check each kind of command gets, by its start; every kind must occur in the tour.
CHECKS: list[tuple[str, Check]] = [
    (r"berth deploy \S+$", _deployed),
    (r"curl ", _curl),
    (r"echo \S+ \| berth secret create ", _secret),
    (r"berth app list$", _listed),
    (r"berth app logs \S+$", _logs),
    (r"berth app stop \S+$", _stopped),
    (r"berth app list --all --json$", _all_json),
]


def test_the_tour_parses_into_commands_and_expectations() -> None:
    setup, steps = parse(tour_block(README.read_text()))
    assert any(line.startswith(f"export BERTH_HOME={README_HOME}") for line in setup), setup
    assert all(step.command and not step.command.startswith("#") for step in steps)
    kinds = {pattern for pattern, _ in CHECKS for step in steps if re.match(pattern, step.command)}
    assert kinds == {pattern for pattern, _ in CHECKS}, "the tour no longer shows every kind of command"


@pytest.mark.timeout(1800)
def test_the_readme_tour_works_as_written(tmp_path: Path) -> None:
    setup, steps = parse(tour_block(README.read_text()))
    home = tmp_path / "berth"
    platform = driver.start(Platform, home, port=_free_port())
    try:
        # The tour's export is what `berth up` tells a second terminal to run.
        assert f"export BERTH_HOME={home}" in platform.output.read_text()
        tour = Tour(platform, setup)
        for step in steps:
            command = tour.local(step.command)
            done = tour.run(command)
            assert done.returncode == 0, f"{command} failed ({done.returncode}):\n{done.stderr[-3000:]}"
            for line in step.prints:
                printed = done.stdout.splitlines()
                assert tour.local(line) in printed, f"{command}: no {line!r} in\n{done.stdout}"
            for pattern, check in CHECKS:
                if re.match(pattern, step.command):
                    check(tour, step, done)
    finally:
        stop_platform(platform)
