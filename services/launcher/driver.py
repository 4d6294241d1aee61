"""A `berth up` in its own home, driven from outside the way a user drives it: the process, the
`berth` CLI against it, and where its state lives. Shared by the end-to-end tests and the benchmark,
so both start, wait for and stop the platform the same way."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from services.common import credentials

BERTH = str(Path(sys.executable).parent / "berth")
UP_TIMEOUT = 120.0
CLI_TIMEOUT = 300.0
STOP_TIMEOUT = 40.0


class PlatformError(Exception):
    """The platform failed to start."""


@dataclass
class Platform:
    home: Path
    port: int
    process: subprocess.Popen[str]
    output: Path

    @property
    def env(self) -> dict[str, str]:
        """The caller's environment without its BERTH_* settings, pointed at this home."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        env["BERTH_HOME"] = str(self.home)
        return env

    def berth(
        self, *args: str, timeout: float = CLI_TIMEOUT, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [BERTH, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env or self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
        )

    @property
    def nats_url(self) -> str:
        return (self.home / "run" / "nats.url").read_text().strip()

    def seed_file(self, identity: str) -> Path:
        """The NATS nkey seed of one of the platform's identities (scheduler, edge, agent-<id>, ...)."""
        return credentials.seed_file(self.home, identity)

    @property
    def agent_id(self) -> str:
        return credentials.agent_ids(self.home)[0]

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGINT) -> int:
        """Ctrl-C and a bounded wait; killed if it does not stop in time. Returns the exit code."""
        return stop_process(self.process, sig)


P = TypeVar("P", bound=Platform)


def stop_process(proc: subprocess.Popen[str] | subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    return proc.returncode


def start(
    kind: type[P],
    home: Path,
    extra_env: dict[str, str] | None = None,
    *,
    port: int = 0,
    args: tuple[str, ...] = (),
) -> P:
    """`berth up --port PORT --home HOME [ARGS]` (port 0: one the system picks); returns once it
    printed "Berth is up." and wrote its config."""
    home.mkdir(parents=True, exist_ok=True)
    output = home / "up.out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
    env.update(extra_env or {})
    with output.open("w") as out:
        process = subprocess.Popen(
            [BERTH, "up", "--port", str(port), "--home", str(home), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
    deadline = time.monotonic() + UP_TIMEOUT
    while time.monotonic() < deadline:
        text = output.read_text(errors="replace")
        if "Berth is up." in text:
            found = re.search(r'edge_url = "http://localhost:(\d+)"', (home / "config.toml").read_text())
            if found:
                return kind(home=home, port=int(found.group(1)), process=process, output=output)
        if process.poll() is not None:
            raise PlatformError(f"berth up exited with {process.returncode}:\n{text}")
        time.sleep(0.05)  # polling the readiness signal itself, under a deadline
    stop_process(process, signal.SIGINT)
    raise PlatformError(f"berth up was not ready within {UP_TIMEOUT:.0f}s:\n{output.read_text()}")
