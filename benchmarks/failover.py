"""Failover figures (issue #9): a three-agent `berth up`, steady load, one agent killed with
SIGKILL (and `berth up` paused so it is not restarted: a lost host). Prints one JSON object:

- dropped_s: kill -> the scheduler no longer lists the dead agent's containers (goal: < 5 s)
- failed: requests that failed (only those in flight on the dead agent may), of `requests`
- recovered_s: kill -> the first second from which every second serves >= 90% of the rate
  before the kill (goal: < 10 s)
- rate_before / rate_after: requests served per second before the kill and in the last 5 s

    .venv/bin/python -m benchmarks.failover [--seconds-after 15] [--workers 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.platform import Platform
from berth.cli.client import Api
from berth.cli.config import load as load_config
from berth.cli.containers import list_containers
from services.launcher import driver

APP = Path(__file__).parent / "apps" / "failover.py"
AGENTS = 3


def _containers(home: Path) -> list[tuple[str, str]]:
    api = Api(load_config(home))
    try:
        return [(c.container_id, c.agent_id) for c in list_containers(api, "failover")]
    finally:
        api.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.failover", description=__doc__)
    parser.add_argument("--seconds-after", type=float, default=15.0, help="load kept after the kill")
    parser.add_argument("--workers", type=int, default=3, help="clients sending back to back")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="berth-failover-") as tmp:
        platform = driver.start(Platform, Path(tmp), {"BERTH_AGENTS": str(AGENTS)})
        try:
            print(json.dumps(run(platform, args.seconds_after, args.workers)), flush=True)
        finally:
            driver.stop_process(platform.process, signal.SIGINT)
    return 0


def run(platform: Platform, seconds_after: float, workers: int) -> dict[str, object]:
    target = platform.deploy(APP)["web"]
    deadline = time.monotonic() + 60
    while len(_containers(platform.home)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    outcomes: list[tuple[float, bool]] = []  # (answered at, succeeded)
    stop = threading.Event()

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                try:
                    ok = client.get(target.target, headers={"host": target.host}).status_code == 200
                except httpx.HTTPError:
                    ok = False
                outcomes.append((time.monotonic(), ok))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    time.sleep(5.0)  # steady load before the kill: the benchmark's own schedule, not a race
    run_dir = platform.home / "run"
    pids = {
        p.with_suffix(".ready").read_text().strip(): int(p.read_text()) for p in run_dir.glob("agent*.pid")
    }
    victim = _containers(platform.home)[0][1]
    on_victim = {cid for cid, agent in _containers(platform.home) if agent == victim}
    os.kill(platform.process.pid, signal.SIGSTOP)
    try:
        os.kill(pids[victim], signal.SIGKILL)
        killed = time.monotonic()
        dropped = -1.0
        while time.monotonic() - killed < seconds_after:
            if dropped < 0 and not {cid for cid, _ in _containers(platform.home)} & on_victim:
                dropped = time.monotonic() - killed
            time.sleep(0.05)
        stop.set()
        for thread in threads:
            thread.join(timeout=70)
    finally:
        os.kill(platform.process.pid, signal.SIGCONT)
    served = [t for t, ok in outcomes if ok]
    before = sum(1 for t in served if started + 1 <= t < killed) / max(killed - started - 1, 1e-9)
    end = killed + seconds_after
    seconds = [sum(1 for t in served if killed + s <= t < killed + s + 1) for s in range(int(seconds_after))]
    recovered = next((s for s in range(len(seconds)) if all(n >= 0.9 * before for n in seconds[s:])), -1)
    return {
        "agents": AGENTS,
        "workers": workers,
        "requests": len(outcomes),
        "failed": sum(1 for _, ok in outcomes if not ok),
        "dropped_s": round(dropped, 2),
        "recovered_s": recovered,
        "rate_before": round(before, 1),
        "rate_after": round(sum(1 for t in served if end - 5 <= t < end) / 5, 1),
    }


if __name__ == "__main__":
    raise SystemExit(main())
