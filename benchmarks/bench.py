"""`scripts/bench`: Berth side by side with the same app on plain uvicorn, against DESIGN.md's goals.

Every number printed comes from a measurement made in this run. Missing a goal never fails the run
(exit 0); the platform failing to start, a deploy failing or requests erroring does (exit 1).

Runtimes (`--runtime`): each runtime measured gets a `berth up` of its own, one after the other
(never two platforms sharing the cores), and every row of the table and of the JSON names the
runtime it measured. By default every measurement runs on the process runtime, and when `docker
info` answers, a second platform on the Docker runtime is started for the cold-start rows only.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from benchmarks import baseline as plain
from benchmarks import calls, hostile, load
from benchmarks import platform as berth_up

ROOT = Path(__file__).resolve().parent.parent
GUIDE_APPS = ROOT.parent / "shared" / "conformance" / "apps"
EXAMPLES = ROOT / "examples"
BURST_APP = Path(__file__).resolve().parent / "apps" / "burst.py"
BULK_APP = Path(__file__).resolve().parent / "apps" / "bulk.py"
BULK_BYTES = 1 << 30

# DESIGN.md "Goals"; each is (text shown, predicate on the measured value).
GOAL_ADDED_P50_MS = 1.0
GOAL_THROUGHPUT_RATIO = 0.6
GOAL_COLD_P50_MS = {"process": 150.0, "docker": 750.0}
GOAL_BURST_SECONDS = 3.0
GOAL_IDLE_PERCENT = 1.0
GOAL_BULK_MB_PER_S = 300.0
GOAL_BULK_RSS_MIB = 64.0
GOAL_HOSTILE_RSS_MIB = 64.0
GOAL_HOSTILE_P50_RATIO = 2.0


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- machine and commit ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "kernel": os.uname().release,
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()

    try:
        rev = git("rev-parse", "--short", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return rev + ("+dirty" if dirty else "")


def guide_app(shared_name: str, example_name: str) -> Path:
    path = GUIDE_APPS / shared_name
    return path if path.exists() else EXAMPLES / example_name


# --- which runtimes ------------------------------------------------------------------------------------

RUNTIMES = ("process", "docker")


@dataclass(frozen=True)
class RuntimePlan:
    every_row: tuple[str, ...]  # runtimes every measurement runs on
    cold_start_only: tuple[str, ...]  # runtimes only the cold start is measured on
    note: str = ""  # why a runtime was left out

    def as_dict(self) -> dict[str, Any]:
        return {
            "every_row": list(self.every_row),
            "cold_start_only": list(self.cold_start_only),
            "note": self.note,
        }


class PlanError(Exception):
    pass


def plan_runtimes(choice: str | None, docker_problem: str) -> RuntimePlan:
    """`--runtime` as a plan. None (the default): everything on the process runtime, plus the Docker
    cold start when `docker_problem` is "" (`docker info` answered). Asking for Docker explicitly
    when it cannot run is an error, never a silent fallback to the process runtime."""
    if choice is None:
        if docker_problem:
            return RuntimePlan(("process",), (), note=f"Docker cold start not measured: {docker_problem}")
        return RuntimePlan(("process",), ("docker",))
    wanted = RUNTIMES if choice == "both" else (choice,)
    if "docker" in wanted and docker_problem:
        raise PlanError(f"--runtime {choice} needs a Docker engine: {docker_problem}")
    return RuntimePlan(wanted, ())


# --- measurements --------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace, wrk_bin: str, workdir: Path) -> None:
        self.args = args
        self.wrk_bin = wrk_bin
        self.workdir = workdir
        self.errors: list[str] = []
        self.platform: berth_up.Platform | None = None
        self.baselines: dict[tuple[Path, str], plain.Baseline] = {}
        # Per runtime measured, filled as measurements finish, so an abort keeps them.
        self.results: dict[str, Any] = {}

    def error(self, message: str) -> None:
        log("ERROR: " + message)
        self.errors.append(message)

    def wrk(self, url: str, host: str, path: str, connections: int, threads: int, seconds: float) -> Any:
        return load.wrk(
            self.wrk_bin, url, host, connections=connections, threads=threads, seconds=seconds, path=path
        )

    def check(self, label: str, port: int, host: str, path: str, expect: Callable[[bytes], bool]) -> float:
        got = load.first_byte(port, host, path)
        if got.status != 200 or not expect(got.body):
            self.error(f"{label}: GET {path} answered {got.status} {got.body[:200]!r}")
        return got.seconds

    def platform_cpu(self) -> tuple[dict[int, str], dict[int, int], float]:
        p = self.platform
        assert p is not None
        pids = berth_up.platform_processes(p.process.pid, p.home, p.runtime)
        return pids, berth_up.cpu_ticks(pids), time.monotonic()

    def platform_cpu_since(self, mark: tuple[dict[int, str], dict[int, int], float]) -> float:
        """% of one core the platform's processes used since `mark` (checks the baseline runs alone)."""
        pids, before, began = mark
        after = berth_up.cpu_ticks(pids)
        used = sum(after[pid] - before[pid] for pid in before if pid in after) / os.sysconf("SC_CLK_TCK")
        return round(100 * used / max(time.monotonic() - began, 1e-6), 1)

    def wait_quiet(self, max_percent: float = 10.0, window: float = 1.0, timeout: float = 60.0) -> float:
        """Waits until the platform uses < `max_percent` of a core over `window`; returns seconds waited."""
        began = time.monotonic()
        while time.monotonic() - began < timeout:
            mark = self.platform_cpu()
            time.sleep(window)
            if self.platform_cpu_since(mark) < max_percent:
                break
        return round(time.monotonic() - began, 1)

    def measure(
        self, name: str, phase: str, ep: berth_up.Endpoint, base: plain.Baseline, path: str, conns: int
    ) -> dict[str, Any]:
        """One phase (wrk at `conns` connections) on the baseline first, then on the platform."""
        a = self.args
        threads = 1 if conns == 1 else 2
        out: dict[str, Any] = {}
        for side, url, host in (("baseline", base.url, base.host), ("platform", ep.target, ep.host)):
            if side == "baseline":
                waited = self.wait_quiet()
                if waited > 1.5:
                    log(f"waited {waited:g}s for the platform to go quiet before the baseline run")
            log(f"{name}: {phase} on {side}: warm-up {a.warmup:g}s, then {a.duration:g}s at -c{conns}")
            self.wrk(url, host, path, conns, threads, a.warmup)
            mark = self.platform_cpu()
            base_pids = {base.process.pid: "uvicorn (baseline)"}
            base_before = berth_up.cpu_ticks(base_pids)
            result = self.wrk(url, host, path, conns, threads, a.duration)
            out[side] = result.as_dict()
            ok = result.requests - result.errors["status"]
            # CPU per successful request, by process: where the platform's time goes, next to the baseline.
            if side == "platform":
                pids, before, _ = mark
                out[side]["cpu_ms_per_request"] = cpu_per_request(pids, before, ok)
            else:
                out[side]["cpu_ms_per_request"] = cpu_per_request(base_pids, base_before, ok)
            if side == "baseline":
                # The platform should be idle while its rival runs; this shows whether it was.
                out[side]["platform_cpu_percent_meanwhile"] = self.platform_cpu_since(mark)
            if ok <= 0:
                # wrk counts only answered requests: a run where every request waited is no error
                # to it, but it is a platform that served nothing.
                self.error(f"{name} {phase} on {side}: no request answered in {a.duration:g}s at -c{conns}")
            if result.error_count:
                self.error(f"{name} {phase} on {side}: wrk errors {result.errors}")
                port = ep.port if side == "platform" else base.port
                sample = load.burst(port, host, conns, timeout=30, path=path)
                out[side]["error_probe"] = asdict(sample)
                log(f"  probe of {conns} concurrent requests: {sample.statuses} {sample.error_samples[:2]}")
        if self.platform is not None:
            out["containers_after"] = self.platform.app_containers()
            out["container_processes_after"] = len(berth_up.app_containers(self.platform))
        return out

    @staticmethod
    def latency_summary(lat: dict[str, Any]) -> dict[str, float]:
        p = {s: lat[s]["percentiles_us"] for s in ("platform", "baseline")}
        return {
            "added_p50_ms": round((p["platform"]["p50"] - p["baseline"]["p50"]) / 1000, 3),
            "added_p99_ms": round((p["platform"]["p99"] - p["baseline"]["p99"]) / 1000, 3),
        }

    @staticmethod
    def throughput_ratio(rps: dict[str, Any]) -> float:
        base_rps = rps["baseline"]["ok_requests_per_s"]
        return round(rps["platform"]["ok_requests_per_s"] / base_rps, 3) if base_rps else 0.0

    def cold_starts(self, hello_file: Path, runs: int) -> dict[str, Any]:
        """Fresh deploys of hello under new app names (same image, already built), one request each."""
        assert self.platform is not None
        runtime = self.platform.runtime
        source = hello_file.read_text()
        samples: list[dict[str, Any]] = []
        stamp = f"{int(time.time()) % 100000}"
        for i in range(runs):
            name = f"cold-{stamp}-{i}"
            text, count = re.subn(r'App\(\s*"[^"]*"', f'App("{name}"', source, count=1)
            if not count:
                raise RuntimeError(f"cannot rename the App in {hello_file}")
            folder = self.workdir / name
            folder.mkdir()
            path = folder / hello_file.name
            path.write_text(text)
            began = time.perf_counter()
            ep = next(iter(self.platform.deploy(path).values()))
            deploy_s = time.perf_counter() - began
            running = self.platform.app_containers().get(name, 0)
            cold = load.first_byte(ep.port, ep.host)
            warm = load.first_byte(ep.port, ep.host)
            ok = cold.status == 200 and b"Hello world!" in cold.body
            if not ok:
                self.error(f"cold start {name}: {cold.status} {cold.body[:200]!r}")
            samples.append(
                {
                    "app": name,
                    "deploy_s": round(deploy_s, 3),
                    "containers_before": running,
                    "first_byte_ms": round(cold.seconds * 1000, 2),
                    "next_request_first_byte_ms": round(warm.seconds * 1000, 2),
                    "status": cold.status,
                }
            )
            log(
                f"{runtime} cold start {i + 1}/{runs}: {cold.seconds * 1000:.1f} ms to first byte "
                f"(then warm {warm.seconds * 1000:.1f} ms; containers before: {running})"
            )
            self.platform.stop_app(name)
        values = [s["first_byte_ms"] for s in samples]
        return {
            "runtime": runtime,
            "method": "fresh deploy of hello under a new app name per run (image cached), "
            "one GET on a new connection, timed from send to first response byte",
            "runs": runs,
            "p50_ms": round(statistics.median(values), 2),
            "p90_ms": round(p90(values), 2),
            "p90_method": "linear interpolation between the samples (statistics.quantiles, inclusive)",
            "min_ms": min(values),
            "max_ms": max(values),
            "samples": samples,
        }

    def burst(self) -> dict[str, Any]:
        assert self.platform is not None
        ep = next(iter(self.platform.deploy(BURST_APP).values()))
        before = self.platform.app_containers().get("bench-burst", 0)
        log(f"burst: 200 concurrent requests from {before} containers")
        result = load.burst(ep.port, ep.host, 200, timeout=60)
        after = self.platform.app_containers().get("bench-burst", 0)
        if result.errors:
            self.error(f"burst: {result.errors} of 200 failed: {result.statuses} {result.error_samples}")
        self.platform.stop_app("bench-burst")
        return {**asdict(result), "containers_before": before, "containers_after": after}

    def bulk(self) -> dict[str, Any]:
        """1 GiB up and 1 GiB down through the platform: MB/s, and how much the edge's and the
        agent's RSS grew (peak during the transfer minus RSS before it)."""
        p = self.platform
        assert p is not None
        ep = next(iter(p.deploy(BULK_APP).values()))
        small = load.download(ep.port, ep.host, "/download?n=10")  # warms the container
        if small.status != 200 or small.bytes != 10:
            self.error(f"bulk: warm-up download answered {small.status} with {small.bytes} bytes")
        procs = berth_up.platform_processes(p.process.pid, p.home)
        watched = {pid: label for pid, label in procs.items() if label in ("services.edge", "services.agent")}
        out: dict[str, Any] = {}
        for direction in ("upload", "download"):
            peaks_reset = all(berth_up.reset_peak_rss(pid) for pid in watched)
            before = {pid: berth_up.memory_kib(pid).get("VmRSS", 0) for pid in watched}
            sampled = dict(before)
            stop = threading.Event()
            sampler = threading.Thread(target=sample_rss, args=(sampled, stop), daemon=True)
            sampler.start()
            log(f"bulk: {direction} of {BULK_BYTES >> 20} MiB")
            if direction == "upload":
                result = load.upload(ep.port, ep.host, "/upload", BULK_BYTES)
                ok = result.status == 200 and result.answer.strip() == str(BULK_BYTES).encode()
            else:
                result = load.download(ep.port, ep.host, f"/download?n={BULK_BYTES}")
                ok = result.status == 200 and result.bytes == BULK_BYTES
            stop.set()
            sampler.join()
            if not ok:
                answer = result.answer[:200]
                self.error(f"bulk {direction}: {result.status}, {result.bytes} bytes, {answer!r}")
            growth: dict[str, float] = {}
            for pid, label in watched.items():
                peak = sampled[pid]
                if peaks_reset:
                    peak = max(peak, berth_up.memory_kib(pid).get("VmHWM", 0))
                growth[label] = round((peak - before[pid]) / 1024, 1)
            out[direction] = {
                "bytes": result.bytes,
                "seconds": round(result.seconds, 3),
                "mb_per_s": round(result.mb_per_s, 1),
                "rss_before_mib": {watched[pid]: round(kib / 1024, 1) for pid, kib in before.items()},
                "rss_growth_mib": growth,
                "peak_from": "VmHWM and 50 ms samples" if peaks_reset else "50 ms samples of VmRSS",
            }
            log(f"bulk: {direction} {result.mb_per_s:.0f} MB/s, RSS growth {growth}")
        p.stop_app("bench-bulk")
        return out

    def idle(self, seconds: float) -> dict[str, Any]:
        """Idle CPU with the warm containers still up, then with every app stopped (0 containers)."""
        p = self.platform
        assert p is not None
        out: dict[str, Any] = {}
        log(f"idle CPU over {seconds:.0f}s with warm containers")
        out["with_warm_containers"] = berth_up.idle_cpu(p.process.pid, p.home, seconds, p.runtime)
        out["with_warm_containers"]["containers"] = len(berth_up.app_containers(p))
        for app in p.app_containers():
            p.stop_app(app)
        began = time.monotonic()
        while berth_up.app_containers(p) and time.monotonic() < began + 30:
            time.sleep(0.1)
        out["containers_gone_after_stop_s"] = (
            None if berth_up.app_containers(p) else round(time.monotonic() - began, 2)
        )
        time.sleep(1.0)  # let the stop's own work (logs, state writes) settle before measuring
        log(f"idle CPU over {seconds:.0f}s with every app stopped")
        out["all_apps_stopped"] = berth_up.idle_cpu(p.process.pid, p.home, seconds, p.runtime)
        out["all_apps_stopped"]["containers"] = len(berth_up.app_containers(p))
        if p.runtime == "docker":
            # Pre-started containers stay up with no app at all (one per kind of container used
            # lately): their idle CPU is in the figures above, their count here.
            pool = [n for n in berth_up.docker_containers(p.home) if berth_up.is_pool(n)]
            out["all_apps_stopped"]["prestarted_containers"] = len(pool)
        return out

    def run(self, plan: RuntimePlan) -> None:
        for runtime in plan.every_row:
            self.on_platform(runtime, self.every_measurement)
        if not self.args.skip_cold:
            for runtime in plan.cold_start_only:
                self.on_platform(runtime, self.cold_start_only)

    def on_platform(self, runtime: str, measure: Callable[[dict[str, Any]], None]) -> None:
        """A `berth up` of its own on `runtime` for `measure`, which fills results[runtime]; the
        platform is stopped before the next one starts, whatever happened."""
        results = self.results[runtime] = {"runtime": runtime}
        home = self.workdir / f"home-{runtime}"
        log(f"starting berth up on the {runtime} runtime (home {home})")
        began = time.perf_counter()
        self.platform = berth_up.start(home, runtime)
        try:
            results["platform_start_s"] = round(time.perf_counter() - began, 2)
            log(f"platform up on port {self.platform.port} in {results['platform_start_s']} s")
            measure(results)
        finally:
            results["shutdown"] = self.stop_platform()

    def first_deploy(self, results: dict[str, Any], hello_file: Path) -> berth_up.Endpoint:
        """Deploys hello: the image is built here (and on Docker the first container launched starts a
        pre-started one of its kind behind it), so later deploys of the same image measure a cold
        start, not a build."""
        assert self.platform is not None
        began = time.perf_counter()
        hello = next(iter(self.platform.deploy(hello_file).values()))
        results["first_deploy_s"] = round(time.perf_counter() - began, 2)
        first_ms = self.check("platform hello", hello.port, hello.host, "/", is_hello) * 1000
        results["hello_first_request_after_deploy_ms"] = round(first_ms, 2)
        return hello

    def cold_start_only(self, results: dict[str, Any]) -> None:
        hello_file = guide_app("hello.py", "hello.py")
        self.first_deploy(results, hello_file)
        results["cold_start"] = self.cold_starts(hello_file, self.args.cold_runs)

    def baseline(self, path: Path, function: str) -> plain.Baseline:
        """The same function on plain uvicorn, started once and shared by every runtime's rows."""
        base = self.baselines.get((path, function))
        if base is None:
            base = self.baselines[path, function] = plain.start(path, function, self.workdir / "baseline.log")
        return base

    def every_measurement(self, results: dict[str, Any]) -> None:
        assert self.platform is not None
        a = self.args
        hello_file = guide_app("hello.py", "hello.py")
        square_file = guide_app("square_get.py", "square.py")
        hello = self.first_deploy(results, hello_file)
        square = next(iter(self.platform.deploy(square_file).values()))
        log(f"deployed {hello.url} and {square.url}")
        base_hello = self.baseline(hello_file, "f")
        base_square = self.baseline(square_file, "square")
        self.check("platform square", square.port, square.host, "/?x=42", is_square)
        self.check("baseline hello", base_hello.port, base_hello.host, "/", is_hello)
        self.check("baseline square", base_square.port, base_square.host, "/?x=42", is_square)

        # Order: the gentle phases first, then the load that scales the apps out. In each phase the
        # baseline runs before the platform, so leftovers of the platform's load cannot slow it.
        pairs = {"hello": (hello, base_hello, "/"), "square": (square, base_square, "/?x=42")}
        for name, (ep, base, path) in pairs.items():
            lat = self.measure(name, "latency", ep, base, path, 1)
            results[name] = {"path": path, "latency_c1": lat, **self.latency_summary(lat)}
        if not a.skip_cold:
            results["cold_start"] = self.cold_starts(hello_file, a.cold_runs)
        if not a.skip_burst:
            results["burst"] = self.burst()
        for name, (ep, base, path) in pairs.items():
            rps = self.measure(name, "throughput", ep, base, path, 32)
            results[name]["rps_c32"] = rps
            results[name]["throughput_ratio"] = self.throughput_ratio(rps)
        if not a.skip_bulk:
            results["bulk"] = self.bulk()
        if not a.skip_calls:
            log("function calls: .remote round trips, then .map of 1000 inputs")
            results["calls"] = calls.measure(self.platform, a.duration)
        if not a.skip_hostile:
            log("hostile: huge and slow headers against square while timing hello")
            results["hostile"] = hostile.measure(self.wrk, self.platform, hello, square, a.duration)
            during = results["hostile"]["victim_during"]
            if sum(during["errors"].values()):
                self.error(f"hostile: hello answered errors during the attack: {during['errors']}")
            log("hostile: a WebSocket flood and a blocking upload on bench-flow while timing hello")
            flow = results["hostile_flow"] = hostile.measure_flow(self.wrk, self.platform, hello, a.duration)
            for name, item in flow.items():
                if sum(item["victim_during"]["errors"].values()):
                    self.error(f"hostile {name}: hello answered errors: {item['victim_during']['errors']}")
        results["idle"] = self.idle(a.idle_seconds)

    def stop_platform(self) -> dict[str, Any]:
        p, self.platform = self.platform, None
        out: dict[str, Any] = {}
        if p is None:
            return out
        log(f"stopping berth up on the {p.runtime} runtime (SIGINT)")
        out["berth_up_exit"] = p.stop()
        if p.runtime == "docker":
            out["leftover_containers"] = berth_up.docker_leftovers(p.home)
        else:
            out["leftover_containers"] = berth_up.container_processes(p.home)
        if out["berth_up_exit"] != 0:
            self.error(f"berth up ({p.runtime}) exited with {out['berth_up_exit']}:\n{p.tail()}")
        if out["leftover_containers"]:
            self.error(f"berth up ({p.runtime}) left behind: {out['leftover_containers']}")
        return out

    def cleanup(self) -> None:
        for base in self.baselines.values():
            try:
                base.stop()
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                log(f"stopping baseline failed: {exc}")


def is_hello(body: bytes) -> bool:
    return bool(json.loads(body) == "Hello world!")


def is_square(body: bytes) -> bool:
    return bool(json.loads(body) == {"square": 1764})


def p90(values: list[float]) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def sample_rss(peaks: dict[int, int], stop: threading.Event) -> None:
    """Raises peaks[pid] to each process's VmRSS (KiB) every 50 ms until `stop` is set."""
    while not stop.wait(0.05):
        for pid in peaks:
            peaks[pid] = max(peaks[pid], berth_up.memory_kib(pid).get("VmRSS", 0))


def cpu_per_request(pids: dict[int, str], before: dict[int, int], requests: int) -> dict[str, float]:
    if requests <= 0:
        return {}
    after = berth_up.cpu_ticks(pids)
    hz = os.sysconf("SC_CLK_TCK")
    used: dict[str, float] = {}
    for pid, label in pids.items():
        if pid in before and pid in after:
            used[label] = used.get(label, 0.0) + (after[pid] - before[pid]) / hz
    per = {label: round(1000 * seconds / max(requests, 1), 3) for label, seconds in sorted(used.items())}
    per["total"] = round(sum(per.values()), 3)
    return per


# --- report --------------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


Row = tuple[str, str, str, str, str, str, str]


def measured_runtimes(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each runtime's measurements, in the order they were made."""
    return [r for name, r in results.items() if isinstance(r, dict) and r.get("runtime") == name]


def rows(results: dict[str, Any]) -> list[Row]:
    """(metric, runtime, platform, baseline, delta, goal, result) rows of the table."""
    return [
        (metric, measured["runtime"], *rest)
        for measured in measured_runtimes(results)
        for metric, *rest in runtime_rows(measured)
    ]


def runtime_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """(metric, platform, baseline, delta, goal, result) rows of one runtime's measurements."""
    out: list[tuple[str, str, str, str, str, str]] = []
    for name in ("hello", "square"):
        r = results.get(name)
        if not r:
            continue
        lat = r["latency_c1"]
        pp, bp = lat["platform"]["percentiles_us"], lat["baseline"]["percentiles_us"]
        label = f"{name} GET {r['path']}"
        add50, add99 = r["added_p50_ms"], r["added_p99_ms"]
        out.append(
            (
                f"{label}: warm p50, c1",
                f"{pp['p50'] / 1000:.3f} ms",
                f"{bp['p50'] / 1000:.3f} ms",
                f"{add50:+.3f} ms",
                f"added <= {GOAL_ADDED_P50_MS:g} ms (aim 0.5)",
                verdict(add50 <= GOAL_ADDED_P50_MS),
            )
        )
        out.append(
            (
                f"{label}: warm p99, c1",
                f"{pp['p99'] / 1000:.3f} ms",
                f"{bp['p99'] / 1000:.3f} ms",
                f"{add99:+.3f} ms",
                "-",
                "-",
            )
        )
        rps = r.get("rps_c32")
        if not rps:
            continue
        ratio = r["throughput_ratio"]
        out.append(
            (
                f"{label}: ok req/s, c32",
                f"{rps['platform']['ok_requests_per_s']:.0f}",
                f"{rps['baseline']['ok_requests_per_s']:.0f}",
                f"x{ratio:.3f}",
                f"ratio >= {GOAL_THROUGHPUT_RATIO:g} (aim 0.75)",
                verdict(ratio >= GOAL_THROUGHPUT_RATIO),
            )
        )
    cold = results.get("cold_start")
    if cold:
        goal = GOAL_COLD_P50_MS[results["runtime"]]
        out.append(
            (
                f"cold start to first byte, p50 of {cold['runs']}",
                f"{cold['p50_ms']:.1f} ms",
                "-",
                f"min {cold['min_ms']:.0f} / max {cold['max_ms']:.0f}",
                f"<= {goal:g} ms",
                verdict(cold["p50_ms"] <= goal),
            )
        )
        out.append(
            (f"cold start to first byte, p90 of {cold['runs']}", f"{cold['p90_ms']:.1f} ms")
            + ("-", "-", "(info)", "-")
        )
    burst = results.get("burst")
    if burst:
        ok = burst["errors"] == 0 and burst["total_seconds"] <= GOAL_BURST_SECONDS
        out.append(
            (
                "burst 200 from zero, max_inputs=1, 20 ctrs",
                f"{burst['ok']}/200 in {burst['total_seconds']:.2f} s",
                "-",
                f"{burst['errors']} errors",
                f"all ok, <= {GOAL_BURST_SECONDS:g} s",
                verdict(ok),
            )
        )
    for direction, item in (results.get("bulk") or {}).items():
        growth = item["rss_growth_mib"]
        worst = max(growth.values(), default=0.0)
        ok = item["mb_per_s"] >= GOAL_BULK_MB_PER_S and worst < GOAL_BULK_RSS_MIB
        out.append(
            (
                f"1 GiB {direction}, edge/agent RSS growth",
                f"{item['mb_per_s']:.0f} MB/s",
                "-",
                " / ".join(f"{growth.get(k, 0):.1f}" for k in ("services.edge", "services.agent")) + " MiB",
                f">= {GOAL_BULK_MB_PER_S:g} MB/s, < {GOAL_BULK_RSS_MIB:g} MiB",
                verdict(ok),
            )
        )
    attack = results.get("hostile")
    if attack:
        growth = attack["rss_growth_mib"]
        worst = max(growth.values(), default=0.0)
        stats = attack["stats"]
        out.append(
            (
                "header attack: edge/agent RSS growth",
                " / ".join(f"{growth.get(k, 0):.1f}" for k in ("services.edge", "services.agent")) + " MiB",
                "-",
                f"{stats['big_connections']} huge, {stats['slow_connections']} slow conns",
                f"< {GOAL_HOSTILE_RSS_MIB:g} MiB",
                verdict(worst < GOAL_HOSTILE_RSS_MIB),
            )
        )
        ratio = attack["p50_ratio"]
        out.append(
            (
                "header attack: hello warm p50 during, c1",
                "no answer" if ratio is None else f"{attack['p50_during_ms']:.3f} ms",
                "-",
                f"{'x-' if ratio is None else f'x{ratio:.2f}'} of {attack['p50_quiet_ms']:.3f} quiet",
                f"<= {GOAL_HOSTILE_P50_RATIO:g}x quiet",
                verdict(ratio is not None and ratio <= GOAL_HOSTILE_P50_RATIO),
            )
        )
    out.extend(hostile.flow_rows(results.get("hostile_flow"), GOAL_HOSTILE_RSS_MIB, GOAL_HOSTILE_P50_RATIO))
    out.extend(calls.rows(results.get("calls")))
    idle = results.get("idle")
    if idle:
        warm = idle["with_warm_containers"]
        out.append(
            (
                "idle CPU, warm containers up",
                f"{warm['percent_of_core']:.2f} % core",
                "-",
                f"{warm['containers']} containers",
                "(info)",
                "-",
            )
        )
        zero = idle["all_apps_stopped"]
        ok = zero["containers"] == 0 and zero["percent_of_core"] < GOAL_IDLE_PERCENT
        out.append(
            (
                "idle CPU, all apps stopped",
                f"{zero['percent_of_core']:.2f} % core",
                "-",
                f"{zero['containers']} containers",
                f"0 ctrs, < {GOAL_IDLE_PERCENT:g} % core",
                verdict(ok),
            )
        )
    return out


def print_table(header: dict[str, Any], results: dict[str, Any]) -> None:
    m = header["machine"]
    plan = header["runtimes"]
    print()
    print(f"Berth benchmark  commit {header['commit']}  {header['started']}")
    print(
        f"machine: {m['cores']} cores ({m['cpu_model']}), Python {m['python']}, "
        f"kernel {m['kernel']}, load avg at start {' '.join(m['loadavg_at_start'])}"
    )
    runtimes = f"runtimes: every row on {', '.join(plan['every_row'])}"
    if plan["cold_start_only"]:
        runtimes += f"; cold start only: {', '.join(plan['cold_start_only'])}"
    print(runtimes + (f"; {plan['note']}" if plan["note"] else ""))
    print(
        f"wrk {header['duration_s']:g}s per run after {header['warmup_s']:g}s warm-up; "
        "baseline = same function, runner's FastAPI wrapper, uvicorn 1 worker httptools+uvloop"
    )
    table = [("metric", "runtime", "platform", "baseline", "delta", "goal", "result"), *rows(results)]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for n, row in enumerate(table):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for measured in measured_runtimes(results):
        print_details(measured)


def print_details(results: dict[str, Any]) -> None:
    """What explains one runtime's rows: methods, containers, CPU per request and at idle."""
    tag = f"[{results['runtime']}]"
    cold = results.get("cold_start")
    if cold:
        print(f"{tag} cold start: {cold['method']}; p90: {cold['p90_method']}")
    for name in ("hello", "square"):
        rps = results.get(name, {}).get("rps_c32")
        if rps:
            print(
                f"{tag} after {name} at c32: containers per app {rps['containers_after']}, "
                f"app containers running {rps['container_processes_after']}; platform CPU during the "
                f"baseline run {rps['baseline']['platform_cpu_percent_meanwhile']} %"
            )
    for name in ("hello", "square"):
        for phase in ("latency_c1", "rps_c32"):
            sides = results.get(name, {}).get(phase)
            if sides:
                cost = {side: sides[side].get("cpu_ms_per_request", {}) for side in ("platform", "baseline")}
                parts = ", ".join(f"{k} {v:.2f}" for k, v in cost["platform"].items() if k != "total" and v)
                print(
                    f"{tag} CPU ms per ok request, {name} {phase}: platform "
                    f"{cost['platform'].get('total', 0):.2f} ({parts}); "
                    f"baseline {cost['baseline'].get('total', 0):.2f}"
                )
    idle_all = results.get("idle")
    if idle_all and idle_all.get("containers_gone_after_stop_s") is None:
        print(f"{tag} after `berth app stop` of every app, app containers were still running 30 s later")
    idle = results.get("idle", {}).get("all_apps_stopped")
    if idle:
        busy = ", ".join(f"{k} {v:.2f}%" for k, v in idle["by_process_percent"].items() if v > 0)
        prestarted = idle.get("prestarted_containers")
        waiting = f"; pre-started containers waiting: {prestarted}" if prestarted is not None else ""
        print(f"{tag} idle CPU by process (all apps stopped): {busy or 'all 0'}{waiting}")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run (default 10)")
    parser.add_argument("--quick", action="store_true", help="short runs: a smoke test of the benchmark")
    parser.add_argument(
        "--runtime",
        choices=["process", "docker", "both"],
        default=None,
        help="the runtime(s) every row is measured on; default: process, plus the Docker cold start "
        "when `docker info` works (env BERTH_RUNTIME sets it too)",
    )
    parser.add_argument("--skip-burst", action="store_true")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--skip-bulk", action="store_true", help="skip the 1 GiB upload and download")
    parser.add_argument("--skip-hostile", action="store_true", help="skip the hostile-client attacks")
    parser.add_argument("--skip-calls", action="store_true", help="skip the function-call rows")
    parser.add_argument("--cold-runs", type=int, default=7, help="cold starts per runtime (default 7)")
    parser.add_argument(
        "--out", type=Path, default=None, help="JSON file (default bench-results/bench-<ts>.json)"
    )
    parser.add_argument("--keep-home", action="store_true", help="keep the platform's temp home for its logs")
    args = parser.parse_args(argv)
    if args.runtime is None and os.environ.get("BERTH_RUNTIME"):
        # Platforms never see the caller's BERTH_* settings, so honour this one here instead of
        # silently measuring the process runtime.
        args.runtime = os.environ["BERTH_RUNTIME"]
        if args.runtime not in ("process", "docker", "both"):
            parser.error(f"BERTH_RUNTIME={args.runtime!r}: expected process, docker or both")
    if args.cold_runs < 1:
        parser.error("--cold-runs must be at least 1")
    if args.quick:
        args.duration = min(args.duration, 2.0)
    args.warmup = 1.0 if args.quick else 3.0
    args.idle_seconds = 5.0
    return args


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    # Ctrl-C and SIGTERM both unwind through the clean-up below (even if SIGINT was inherited ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    started = datetime.datetime.now()
    try:
        plan = plan_runtimes(args.runtime, berth_up.docker_problem())
    except PlanError as exc:
        print(f"scripts/bench: {exc}", file=sys.stderr)
        return 1
    if plan.note:
        log(plan.note)
    header = {
        "started": started.isoformat(timespec="seconds"),
        "commit": commit(),
        "machine": machine(),
        "runtimes": plan.as_dict(),
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "quick": args.quick,
    }
    try:
        wrk_bin = load.ensure_wrk()
    except load.LoadError as exc:
        print(f"scripts/bench: {exc}", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="berth-bench-"))
    bench = Bench(args, wrk_bin, workdir)
    results = bench.results
    failure = ""
    try:
        bench.run(plan)
    except KeyboardInterrupt:
        failure = "interrupted"
    except Exception as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        failure = f"{type(exc).__name__}: {exc}"
        traceback.print_exc()
    finally:
        bench.cleanup()
        load.remove_script()
        if args.keep_home or failure:
            log(f"platform homes kept under {workdir} (logs in home-<runtime>/logs)")
        else:
            berth_up.remove_home(workdir)
    goals = [
        {
            "metric": r[0],
            "runtime": r[1],
            "platform": r[2],
            "baseline": r[3],
            "delta": r[4],
            "goal": r[5],
            "result": r[6],
        }
        for r in rows(results)
    ]
    document = {**header, "results": results, "goals": goals, "errors": bench.errors, "failure": failure}
    out = args.out or ROOT / "bench-results" / f"bench-{started.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
    print_table(header, results)
    print(f"results written to {out}")
    if failure:
        print(f"scripts/bench: FAILED: {failure}", file=sys.stderr)
        return 1
    if bench.errors:
        print(f"scripts/bench: {len(bench.errors)} error(s):", file=sys.stderr)
        for message in bench.errors:
            print(f"  {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
