"""`berth up` supervises its services (issue #9): under steady load to a warm app, `kill -9` of each
service in turn, then of nats-server; each comes back with a new pid and the platform serves again.

What each kill may cost, asserted from every request's recorded outcome:
- builder, scheduler: no request fails (warm traffic never needs them; a restarted scheduler adopts
  the containers agents still run instead of stopping them);
- agent, edge: only the requests in flight at the kill (a request sent to the dead agent's container
  reached no code, so the edge sends it again on the container the scheduler boots in its place;
  connections made while the edge is down wait in the socket backlog `berth up` holds);
- nats-server: requests fail only while it is away, and fast (503), not at their timeout; its
  JetStream state (the deployed app) survives the restart.
Every request that starts once the platform is whole again succeeds. Recovery times are printed
(figures for the report), never asserted.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import (
    EXAMPLES,
    Platform,
    container_pids,
    send,
    start_platform,
    stop_platform,
    wait_until,
)

pytestmark = pytest.mark.xdist_group("supervision")

RATE = 20.0  # requests per second from the load thread
RECOVERY_TIMEOUT = 20.0  # a bound on waiting, not a measure: the figures are printed
SETTLE = 1.5  # seconds of load kept after recovery, every request of which must succeed
FAST = 3.0  # seconds within which a request failing for a NATS restart must have failed


@dataclass(frozen=True)
class Outcome:
    started: float
    ended: float
    status: int  # 0: no HTTP answer (connection reset, timeout)
    detail: str

    @property
    def ok(self) -> bool:
        return self.status == 200


class Load:
    """Steady GETs to one URL from a thread, every outcome recorded with its start and end."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.outcomes: list[Outcome] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    response = send(client, "GET", self.url)
                    status, detail = response.status_code, response.text[:200]
                except httpx.HTTPError as exc:
                    status, detail = 0, f"{type(exc).__name__}: {exc}"
                ended = time.monotonic()
                self.outcomes.append(Outcome(started, ended, status, detail))
                self._stop.wait(max(0.0, 1 / RATE - (ended - started)))

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in list(self.outcomes) if start <= o.started < end]

    def succeeded_since(self, moment: float) -> bool:
        return any(o.ok and o.started >= moment for o in list(self.outcomes))


@pytest.fixture(scope="module")
def supervised(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """A platform of its own: its services get killed."""
    running = start_platform(tmp_path_factory.mktemp("berth-supervised"))
    try:
        yield running
    finally:
        stop_platform(running)  # containers of the killed agent included: none may outlive it


def _pid(platform: Platform, service: str) -> int:
    try:
        return int((platform.home / "run" / f"{service}.pid").read_text())
    except (OSError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    # A zombie is dead for this purpose: its parent (berth up) has not reaped it yet.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _ready(platform: Platform, service: str) -> bool:
    return service == "nats" or (platform.home / "run" / f"{service}.ready").exists()


def _kill_and_recover(platform: Platform, load: Load, service: str) -> tuple[float, float, float]:
    """Kills `service` outright; returns (the kill's moment, when a new process of it was ready and
    a request after that succeeded, when the next request started after that)."""
    old = _pid(platform, service)
    assert old and _alive(old), f"{service} is not running before the kill"
    killed = time.monotonic()
    os.kill(old, signal.SIGKILL)
    wait_until(
        lambda: _pid(platform, service) not in (0, old) and _alive(_pid(platform, service)),
        f"a new {service} process",
        timeout=RECOVERY_TIMEOUT,
    )
    wait_until(lambda: _ready(platform, service), f"the new {service} to be ready", RECOVERY_TIMEOUT)
    back = time.monotonic()
    wait_until(lambda: load.succeeded_since(back), f"a request to succeed after {service} came back", 30)
    whole = min(o.ended for o in load.outcomes if o.ok and o.started >= back)
    time.sleep(SETTLE)  # load keeps running: what it records after recovery is asserted below
    return killed, whole, time.monotonic()


def _failures(outcomes: list[Outcome]) -> list[Outcome]:
    return [o for o in outcomes if not o.ok]


def _costed(o: Outcome, service: str, whole: float) -> bool:
    """Whether a failure is one a kill of `service` may cost though the request started after it."""
    answered = o.status >= 500 or (service == "edge" and o.status == 0)
    return o.started < whole and answered and "Timeout" not in o.detail


def test_every_service_killed_in_turn_comes_back_and_the_app_keeps_answering(supervised: Platform) -> None:
    platform = supervised
    urls = platform.deploy(EXAMPLES / "hello.py")
    first = platform.request("GET", urls["f"])  # warm: the first call boots the container
    assert first.status_code == 200, first.text
    figures: dict[str, float] = {}
    with Load(urls["f"]) as load:
        wait_until(lambda: len(load.outcomes) >= 10, "the load to run", 30)
        assert not _failures(load.outcomes), _failures(load.outcomes)

        for service in ("builder", "scheduler", "agent", "edge"):
            before = container_pids(platform, "hello")
            killed, whole, settled = _kill_and_recover(platform, load, service)
            figures[service] = whole - killed
            during = load.between(killed - 1.0, settled)
            in_flight = [o for o in during if o.started <= killed < o.ended]
            failed = _failures(during)
            if service in ("builder", "scheduler"):
                assert not failed, f"{service} kill failed requests: {failed}"
                # Adopted, not replaced: the same container answers.
                assert container_pids(platform, "hello") == before
            else:
                # What an agent kill may cost: requests in flight on it, including those sent in
                # the moment before the bus noticed its dead connection (NATS still routed to it);
                # they fail with an answer (502/503 naming why). An edge kill costs its open
                # connections: a request sent on one just then is reset. Never a hang, and
                # nothing sent once the platform answered again fails (checked below).
                stray = [o for o in failed if o not in in_flight and not _costed(o, service, whole)]
                assert not stray, f"{service} kill failed requests that were not in flight at it: {stray}"
                hung = [o for o in failed if "Timeout" in o.detail]
                assert not hung, f"{service} kill left requests unanswered until the client gave up: {hung}"
            recovered = load.between(whole, settled)
            assert recovered and not _failures(recovered), _failures(recovered)

        # NATS: services reconnect to the restarted server; JetStream keeps the deployed app.
        killed, whole, settled = _kill_and_recover(platform, load, "nats")
        figures["nats"] = whole - killed
        slow = [o for o in _failures(load.between(killed - 1.0, settled)) if o.ended - o.started > FAST]
        assert not slow, f"requests failed slowly during the NATS restart: {slow}"
        recovered = load.between(whole, settled)
        assert recovered and not _failures(recovered), _failures(recovered)

    listed = platform.berth("app", "list", timeout=60)
    assert listed.returncode == 0 and "hello" in listed.stdout, listed.stdout + listed.stderr
    again = platform.request("GET", urls["f"])
    assert again.status_code == 200 and again.json() == "Hello world!", again.text
    log = platform.output.read_text()
    for service in figures:
        assert f"{service} exited with status 137 (signal 9, SIGKILL); restarting in" in log, log[-3000:]
    total = len(load.outcomes)
    failed = len(_failures(load.outcomes))
    summary = ", ".join(f"{name} {seconds:.2f}s" for name, seconds in figures.items())
    print(
        f"\n[supervision] kill -9 -> whole again: {summary}; {failed}/{total} requests failed",
        file=sys.stderr,
    )
