"""Function-call rows of `scripts/bench`: the `.remote` round trip to a warm function (sequential
calls, c1) and `.map` of 1,000 trivial inputs (inputs/s), both made the way a script makes them:
the SDK in a fresh interpreter that knows the platform by BERTH_HOME, over HTTP to the edge with
the API token."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.platform import Platform, PlatformError

APP = Path(__file__).resolve().parent / "apps" / "calls.py"
MAP_INPUTS = 1000
WARMUP_CALLS = 20
MAX_CALLS = 5000

# Run in the client interpreter: argv[1] is the seconds of sequential calls to time.
CLIENT = """
import json, statistics, sys, time
import berth

echo = berth.Function.from_name("bench-calls", "echo")
seconds, map_inputs, warmup, most = float(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
for i in range(warmup):
    assert echo.remote(i) == i
samples = []
ends = time.perf_counter() + seconds
while time.perf_counter() < ends and len(samples) < most:
    began = time.perf_counter()
    echo.remote(1)
    samples.append((time.perf_counter() - began) * 1000)
samples.sort()
list(echo.map(range(64)))  # warms the containers .map spreads over
began = time.perf_counter()
results = list(echo.map(range(map_inputs)))
took = time.perf_counter() - began
assert results == list(range(map_inputs)), "map answered out of order or wrong"
print(json.dumps({
    "remote_calls": len(samples),
    "remote_p50_ms": round(statistics.median(samples), 3),
    "remote_p99_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.99))], 3),
    "map_inputs": map_inputs,
    "map_seconds": round(took, 3),
    "map_inputs_per_s": round(map_inputs / took, 1),
}))
"""


def measure(platform: Platform, seconds: float) -> dict[str, Any]:
    """Deploys bench-calls, times the calls from a client interpreter, stops the app."""
    deployed = platform.berth("deploy", str(APP))
    if deployed.returncode != 0:
        raise PlatformError(f"deploy of {APP} failed:\n{deployed.stdout}{deployed.stderr}")
    try:
        run = subprocess.run(
            [sys.executable, "-c", CLIENT, str(seconds), str(MAP_INPUTS), str(WARMUP_CALLS), str(MAX_CALLS)],
            capture_output=True,
            text=True,
            timeout=seconds + 300,
            env=platform.env,
            cwd=platform.home,
        )
        if run.returncode != 0:
            raise PlatformError(f"the function-call client failed:\n{run.stdout}{run.stderr}")
        return dict(json.loads(run.stdout.strip().splitlines()[-1]))
    finally:
        platform.stop_app("bench-calls")


def rows(calls: dict[str, Any] | None) -> list[tuple[str, str, str, str, str, str]]:
    """(metric, platform, baseline, delta, goal, result) rows; none if the calls were not measured."""
    if not calls:
        return []
    return [
        (
            ".remote round trip, warm, p50 c1",
            f"{calls['remote_p50_ms']:.3f} ms",
            "-",
            f"p99 {calls['remote_p99_ms']:.3f} ms, {calls['remote_calls']} calls",
            "(info)",
            "-",
        ),
        (
            f".map of {calls['map_inputs']} trivial inputs",
            f"{calls['map_inputs_per_s']:.0f} inputs/s",
            "-",
            f"in {calls['map_seconds']:.2f} s",
            "(info)",
            "-",
        ),
    ]
