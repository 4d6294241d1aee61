"""Several agents (issue #9): containers spread over them, and one killed under load.

A platform of its own with three agents (`berth up --agents 3`, here through BERTH_AGENTS). The
agent is killed with SIGKILL, as a lost host would be; `berth up` would restart a dead agent at
once under the same id (that path, an agent restarting, is test_supervision.py's), so the test
pauses `berth up` itself (SIGSTOP: its services keep running, only its restarting is held) for as
long as the agent must stay dead. The scheduler must then notice the silence on its own, within
5 s, drop the agent's containers, have the edge fail only what was in flight there, and boot
replacements on the two agents left.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from berth.cli.client import Api
from berth.cli.config import load as load_config
from berth.cli.containers import container_rows, list_containers
from services.common import credentials
from services.common.readiness import wait_ready_file
from services.edge.app import CONTAINER_LOST
from services.edge.failures import summary
from tests.e2e.conftest import Platform, direct, start_platform, stop_platform, stop_process, wait_until

APPS = Path(__file__).parent / "apps"
AGENTS = 3
WORKERS = 3  # each sends one request after another: ~15 req/s against 0.15 s answers
DEAD_WITHIN = 5.0  # an agent silent this long has been declared dead and its containers dropped
RECOVERED_WITHIN = 10.0  # every request sent this long after the kill succeeds
# The edge's 502 for a request in flight on a dead agent: a deployed app's client sees the summary.
LOST = summary(CONTAINER_LOST) + " (request id "


@dataclass
class Outcome:
    started: float
    status: int
    body: str
    took: float


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    running = start_platform(tmp_path_factory.mktemp("three-agents"), {"BERTH_AGENTS": str(AGENTS)})
    try:
        yield running
    finally:
        stop_platform(running)


def containers(platform: Platform) -> list[dict[str, Any]]:
    """What `berth container list spread --json` prints, asked in-process: polled often, a CLI
    process per look would blur when the scheduler dropped a container by a second."""
    api = Api(load_config(platform.home))
    try:
        return container_rows(list_containers(api, "spread"))
    finally:
        api.close()


def agents_of(platform: Platform) -> dict[str, int]:
    """Agent id -> pid of each agent `berth up` runs (its ready file holds the id)."""
    run = platform.home / "run"
    found = {}
    for ready in run.glob("agent*.ready"):
        pid = run / ready.name.replace(".ready", ".pid")
        found[ready.read_text().strip()] = int(pid.read_text())
    return found


class Load:
    """WORKERS threads sending requests back to back until stopped; every outcome is kept."""

    def __init__(self, url: str, *, port: int = 0) -> None:
        target, host = direct(url)
        # Through the edge at `port` when given, else the platform's own edge.
        self.target = target.replace(target.split("/")[2], f"127.0.0.1:{port}", 1) if port else target
        self.host = host
        self.outcomes: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(WORKERS)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=70)

    def _run(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = client.get(self.target, headers={"host": self.host})
                    took = time.monotonic() - started
                    outcome = Outcome(started, response.status_code, response.text, took)
                except httpx.HTTPError as exc:
                    took = time.monotonic() - started
                    outcome = Outcome(started, 0, f"{type(exc).__name__}: {exc}", took)
                with self._lock:
                    self.outcomes.append(outcome)

    def since(self, moment: float) -> list[Outcome]:
        with self._lock:
            return [o for o in self.outcomes if o.started >= moment]


def test_containers_spread_and_a_killed_agent_is_replaced_without_failing_the_others(
    three: Platform,
) -> None:
    agents = agents_of(three)
    assert len(agents) == AGENTS, agents
    url = three.deploy(APPS / "spread.py")["web"]
    # min_containers=3 on three agents: placement puts one on each (most free slots first).
    wait_until(lambda: sum(c["state"] == "ready" for c in containers(three)) >= 3, "3 ready containers")
    placed = containers(three)
    assert {c["agent"] for c in placed} <= set(agents)
    assert len({c["agent"] for c in placed}) >= 2, placed

    with Load(url) as load:
        wait_until(lambda: sum(o.status == 200 for o in load.outcomes) >= 20, "the load to run")
        before = containers(three)
        victim = before[0]["agent"]
        on_victim = {c["id"] for c in before if c["agent"] == victim}
        survivors = set(agents) - {victim}
        os.kill(three.process.pid, signal.SIGSTOP)  # no restart of the agent while it must be dead
        try:
            os.kill(agents[victim], signal.SIGKILL)
            killed = time.monotonic()
            # Declared dead within 5 s: its containers are gone from the scheduler's pools.
            wait_until(
                lambda: not {c["id"] for c in containers(three)} & on_victim,
                "the dead agent's containers to be dropped",
                timeout=DEAD_WITHIN,
            )
            dropped = time.monotonic() - killed
            # Replaced on the agents left: min_containers again, none on the dead one.
            wait_until(
                lambda: (
                    sum(c["state"] == "ready" and c["agent"] in survivors for c in containers(three)) >= 3
                ),
                "replacements on the live agents",
                timeout=RECOVERED_WITHIN,
            )
            recovered = killed + RECOVERED_WITHIN
            wait_until(lambda: len(load.since(recovered)) >= 20, "requests after recovery", timeout=30)
            now = containers(three)  # before `berth up` may restart the agent under its old id
        finally:
            os.kill(three.process.pid, signal.SIGCONT)

    after = [o for o in load.outcomes if o.started >= killed]
    failed = [o for o in load.outcomes if o.status != 200]
    slowest = max((o.took for o in after if o.status == 200), default=0.0)
    summary = f"{len(load.outcomes)} requests, {len(failed)} failed (in flight on the dead agent)"
    print(f"\n[agents] {summary}; dead agent's containers dropped {dropped:.1f} s after the kill;")
    print(f"[agents] slowest successful request sent after the kill: {slowest:.2f} s")
    # Only requests in flight on the dead agent's containers may fail, each with the precise 502;
    # requests on the other agents' containers, and those sent to the dead ones after the kill
    # (resent by the edge: they reached no code), all succeed.
    assert all(o.status == 502 and o.body.startswith(LOST) for o in failed), failed[:5]
    assert len(failed) <= 2 * len(on_victim), failed  # max_inputs=2 slots per container there
    late = load.since(recovered)
    assert late and all(o.status == 200 for o in late), [o for o in late if o.status != 200][:5]
    assert {o.body for o in after if o.status == 200} - on_victim  # the others kept answering
    assert now and all(c["agent"] in survivors for c in now), now
    # The death path did it, not something else that happened to look alike.
    scheduler_log = (three.home / "logs" / "scheduler.log").read_text(errors="replace")
    assert "container lost" in scheduler_log and "agent dead" in scheduler_log and victim in scheduler_log


@pytest.fixture
def second_edge(three: Platform, tmp_path: Path) -> Iterator[int]:
    """The port of a second edge process on the same bus, as a second host's edge would be."""
    ready, log = tmp_path / "edge.ready", tmp_path / "edge.log"
    env = {
        **three.env,
        "BERTH_NATS_URL": three.nats_url,
        "BERTH_NATS_SEED_FILE": str(three.seed_file(credentials.EDGE)),
    }
    argv = [sys.executable, "-m", "services.edge", "--port", "0", "--ready-file", str(ready)]
    with log.open("w") as out:
        process = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    try:
        address = wait_ready_file(ready, timeout=60, alive=lambda: process.poll() is None)
        yield int(address.rsplit(":", 1)[1])
    finally:
        stop_process(process)


def test_two_edges_share_one_container_instead_of_one_edge_keeping_it(
    three: Platform, second_edge: int
) -> None:
    url = three.deploy(APPS / "one_container.py")["web"]
    # max_containers=1: both edges queue for the same container. Leased whole to whichever asked
    # first and kept while its queue lasts, the other edge's requests would wait the full 300 s.
    with Load(url) as first, Load(url, port=second_edge) as second:
        wait_until(
            lambda: min(sum(o.status == 200 for o in load.outcomes) for load in (first, second)) >= 10,
            "both edges' requests to be served",
            timeout=45,
        )
    for load in (first, second):
        assert all(o.status == 200 for o in load.outcomes), [o for o in load.outcomes if o.status != 200][:5]
    served = [sum(o.status == 200 for o in load.outcomes) for load in (first, second)]
    print(
        f"\n[agents] two edges sharing one container (2 slots): {served[0]} and {served[1]} requests served"
    )


def test_two_edges_use_one_containers_slots_at_the_same_time(three: Platform, second_edge: int) -> None:
    url = three.deploy(APPS / "shared_slots.py")["web"]
    # One container of 4 slots (max_containers=1); each edge sends 2 requests at once, and each
    # request answers "together" only once 4 are inside the container at the same moment: both
    # edges must hold a share of its slots at once. Taking turns, every one answers "alone".
    target, host = direct(url)
    other = target.replace(target.split("/")[2], f"127.0.0.1:{second_edge}", 1)
    answers: list[tuple[int, str]] = []
    lock = threading.Lock()

    def call(address: str) -> None:
        try:
            with httpx.Client(timeout=90) as client:
                response = client.get(address, headers={"host": host})
                outcome = (response.status_code, response.text)
        except httpx.HTTPError as exc:
            outcome = (0, f"{type(exc).__name__}: {exc}")
        with lock:
            answers.append(outcome)

    threads = [threading.Thread(target=call, args=(a,), daemon=True) for a in (target, other) * 2]
    for thread in threads:
        thread.start()
    wait_until(lambda: len(answers) == len(threads), "every request to be answered", timeout=120)
    assert answers == [(200, "together")] * 4, answers
