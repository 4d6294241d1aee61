"""`python -m services.agent` on the shared service skeleton, against a real nats-server closed the
way `berth up` closes it: the start-up lines, readiness, heartbeats under its own identity, and a
clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from berth.v1 import bus_pb2
from services.common import bus, credentials, subjects
from services.launcher import nats

REPO = Path(__file__).resolve().parents[3]
TIMEOUT = 30.0


@dataclass(frozen=True)
class Bus:
    url: str
    home: Path
    agent_id: str


@pytest.fixture
def bus_for_one_agent(tmp_path: Path) -> Iterator[Bus]:
    agent_id = f"entry-{uuid.uuid4().hex[:6]}"
    home = tmp_path / "nats-home"
    home.mkdir()
    log = home / "nats.log"
    log.write_text("")
    server = subprocess.Popen(
        nats.argv(nats.write_config(home, [agent_id]), home, log),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = nats.wait_listening(log, lambda: server.poll() is None)
        nats.provision_state(url, home)  # the buckets the agent reads, made as `admin`
        yield Bus(url, home, agent_id)
    finally:
        server.terminate()
        server.wait(timeout=TIMEOUT)
        shutil.rmtree(f"/tmp/berth-{agent_id}", ignore_errors=True)  # the agent's socket dir


def _wait_for(path: Path, agent: subprocess.Popen[bytes], output: Path) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not path.exists():
        if agent.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"the agent did not become ready:\n{output.read_text(errors='replace')}")
        time.sleep(0.05)  # polling the readiness signal itself, under a deadline


async def _heartbeat(url: str, home: Path, agent_id: str) -> bus_pb2.AgentHeartbeat:
    nc = await bus.connect(url, "test", seed_file=str(credentials.seed_file(home, credentials.ADMIN)))
    try:
        beats: asyncio.Queue[bus_pb2.AgentHeartbeat] = asyncio.Queue()

        async def on_beat(msg: object) -> None:
            beats.put_nowait(bus_pb2.AgentHeartbeat.FromString(msg.data))  # type: ignore[attr-defined]

        await nc.subscribe(subjects.AGENT_HEARTBEAT, cb=on_beat)
        while True:
            beat = await asyncio.wait_for(beats.get(), TIMEOUT)
            if beat.agent_id == agent_id:
                return beat
    finally:
        await nc.close()


def test_the_agent_starts_announces_beats_and_stops_cleanly_on_sigterm(
    bus_for_one_agent: Bus, tmp_path: Path
) -> None:
    b = bus_for_one_agent
    ready, output = tmp_path / "agent.ready", tmp_path / "agent.out"
    seed = credentials.seed_file(b.home, credentials.agent_identity(b.agent_id))
    with output.open("wb") as out:
        agent = subprocess.Popen(
            [sys.executable, "-m", "services.agent", "--agent-id", b.agent_id, "--nats-url", b.url]
            + ["--nats-seed-file", str(seed), "--home", str(tmp_path / "home"), "--ready-file", str(ready)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "BERTH_LOG_LEVEL": "INFO", "BERTH_RUNTIME": "process"},
        )
    try:
        _wait_for(ready, agent, output)
        assert ready.read_text().strip() == b.agent_id
        beat = asyncio.run(_heartbeat(b.url, b.home, b.agent_id))
        agent.send_signal(signal.SIGTERM)
        code = agent.wait(TIMEOUT)
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait(TIMEOUT)
    text = output.read_text(errors="replace")
    assert code == 0, text
    assert not ready.exists(), "a clean stop removes the ready file"
    lines = text.splitlines()
    config_line = next(line for line in lines if line.startswith("berth-agent nats_url="))
    assert f"agent_id={b.agent_id}" in config_line and "runtime=process" in config_line
    isolation = next(line for line in lines if line.startswith("berth-agent isolation: "))
    level = isolation.removeprefix("berth-agent isolation: ").split(":", 1)[0]
    assert beat.runtime == "process" and beat.isolation == level, (beat, isolation)
    assert any("agent ready" in line and b.agent_id in line for line in lines), text
    assert "Traceback" not in text, text
