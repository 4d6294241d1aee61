"""A dedicated `berth up` with its own temporary home, driven the way a user drives it, on the
process or the Docker runtime; and the processes and containers of one, for CPU and memory figures."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.launcher import driver

PlatformError = driver.PlatformError


@dataclass
class Endpoint:
    """A deployed web function: its printed URL, and where to send requests for it."""

    url: str
    host: str  # Host header, e.g. local--hello-f.localhost:PORT
    port: int

    @property
    def target(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def endpoint(url: str) -> Endpoint:
    match = re.match(r"https?://([^/:]+):(\d+)", url)
    if not match:
        raise PlatformError(f"unexpected function URL {url!r}")
    host, port = match.groups()
    return Endpoint(url=url, host=f"{host}:{port}", port=int(port))


@dataclass
class Platform(driver.Platform):
    apps: list[str] = field(default_factory=list)
    runtime: str = "process"

    def deploy(self, path: Path) -> dict[str, Endpoint]:
        """Deploys `path`; returns each printed web function's endpoint by function name."""
        result = self.berth("deploy", str(path))
        if result.returncode != 0:
            raise PlatformError(f"deploy of {path} failed:\n{result.stdout}{result.stderr}")
        urls: dict[str, Endpoint] = {}
        for line in result.stdout.splitlines():
            name, sep, url = line.partition(": ")
            if sep and url.strip().startswith("http"):
                urls[name.strip()] = endpoint(url.strip())
        if not urls:
            raise PlatformError(f"deploy of {path} printed no URL:\n{result.stdout}")
        return urls

    def stop_app(self, name: str) -> None:
        result = self.berth("app", "stop", name, timeout=60)
        if result.returncode != 0:
            raise PlatformError(f"`berth app stop {name}` failed:\n{result.stderr}")

    def app_containers(self) -> dict[str, int]:
        """CONTAINERS column of `berth app list`, by app name."""
        result = self.berth("app", "list", timeout=60)
        if result.returncode != 0:
            raise PlatformError(f"`berth app list` failed:\n{result.stderr}")
        found: dict[str, int] = {}
        for line in result.stdout.splitlines()[1:]:
            parts = line.split()
            if len(parts) >= 4 and parts[3].isdigit():
                found[parts[0]] = int(parts[3])
        return found


def start(home: Path | None = None, runtime: str = "process") -> Platform:
    """`berth up --port 0 --home <tmp>` on `runtime`; returns once it printed "Berth is up." and
    wrote its config. The caller's BERTH_* settings never reach it (driver.start drops them), so the
    runtime is only ever the one asked for here."""
    home = home or Path(tempfile.mkdtemp(prefix="berth-bench-"))
    platform = driver.start(Platform, home, {"BERTH_RUNTIME": runtime})
    platform.runtime = runtime
    return platform


def remove_home(home: Path) -> None:
    shutil.rmtree(home, ignore_errors=True)


# --- processes of one platform, for CPU accounting -------------------------------------------------


def _stat(pid: int) -> tuple[int, int, str] | None:
    """(ppid, utime+stime in ticks, command name) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is state (field 3); ppid is field 4, utime 14, stime 15.
    return int(fields[1]), int(fields[11]) + int(fields[12]), name


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def docker_problem() -> str:
    """Why the Docker runtime cannot be measured here; empty when `docker info` answers."""
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"`docker info` failed: {exc}"
    if result.returncode != 0:
        return f"`docker info` failed: {(result.stderr or result.stdout).strip()[:300]}"
    return ""


def docker_containers(home: Path) -> dict[str, int]:
    """Running Docker containers of the platform whose agent home is `home`, pre-started ones
    (named berth-pool-*) included: name -> the host pid of its first process."""
    import docker
    import docker.errors

    from services.agent.runtime.docker import LABEL_OWNER, owner_label

    client: Any = docker.from_env()
    try:
        found: dict[str, int] = {}
        for summary in client.api.containers(filters={"label": f"{LABEL_OWNER}={owner_label(home)}"}):
            try:
                pid = int(client.api.inspect_container(summary["Id"])["State"]["Pid"])
            except docker.errors.NotFound:  # removed while listing
                continue
            if pid > 0:
                found[summary["Names"][0].lstrip("/")] = pid
        return found
    finally:
        client.close()


def docker_leftovers(home: Path) -> list[str]:
    """What the Docker runtime of `home` left in the engine: its containers, running or not, and
    its app network (`network:<name>`). Empty once its `berth up` has stopped cleanly."""
    import docker

    from services.agent.runtime.docker import LABEL_OWNER, owner_label
    from services.agent.runtime.docker_network import AppNetwork

    owner = owner_label(home)
    client: Any = docker.from_env()
    try:
        found = [
            summary["Names"][0].lstrip("/")
            for summary in client.api.containers(all=True, filters={"label": f"{LABEL_OWNER}={owner}"})
        ]
        network = AppNetwork.for_owner(owner).name
        networks = client.api.networks(names=[network])  # a name filter matches prefixes too
        found += [f"network:{network}" for n in networks if n["Name"] == network]
        return sorted(found)
    finally:
        client.close()


def is_pool(name: str) -> bool:
    """A pre-started container waiting to become some app's (services/agent/runtime/docker_pool.py)."""
    return name.startswith("berth-pool-")


def app_containers(platform: Platform) -> list[str]:
    """What runs an app right now: runner processes on the process runtime, Docker containers
    (pre-started ones left out) on the Docker runtime."""
    if platform.runtime == "docker":
        return sorted(n for n in docker_containers(platform.home) if not is_pool(n))
    return [str(pid) for pid in container_processes(platform.home)]


def container_processes(home: Path) -> list[int]:
    """Container (runner) processes started by the platform whose state lives under `home`."""
    found = []
    marker = f"BERTH_BOOT={home}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"BERTH_CONTAINER_ID=" in environ and marker in environ:
            found.append(int(proc.name))
    return found


def platform_processes(root_pid: int, home: Path, runtime: str = "process") -> dict[int, str]:
    """`berth up` and every process under it (nats-server, services.*, runners), by pid -> label;
    on the Docker runtime also every process of its containers (labelled "docker container"),
    which the engine starts outside the platform's process tree."""
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        stat = _stat(int(proc.name))
        if stat is None:
            continue
        children.setdefault(stat[0], []).append(int(proc.name))
        names[int(proc.name)] = stat[2]
    found: dict[int, str] = {}
    roots = [(root_pid, "")]
    if runtime == "docker":
        roots += [(pid, "docker container") for pid in docker_containers(home).values()]
    for root, label in roots:
        todo = [root]
        while todo:
            pid = todo.pop()
            if pid in found:
                continue
            found[pid] = label or _label(pid, names.get(pid, "?"))
            todo.extend(children.get(pid, []))
    for pid in container_processes(home):  # runners that were re-parented away, if any
        found.setdefault(pid, _label(pid, names.get(pid, "?")))
    return found


def _label(pid: int, name: str) -> str:
    cmd = _cmdline(pid)
    found = re.search(r"-m (services\.\w+|berth\._runtime\S*)", cmd)
    if found:
        return found.group(1)
    if "nats-server" in cmd:
        return "nats-server"
    if " up --port " in cmd:
        return "berth up"
    return name


def cpu_ticks(pids: dict[int, str]) -> dict[int, int]:
    ticks = {}
    for pid in pids:
        stat = _stat(pid)
        if stat is not None:
            ticks[pid] = stat[1]
    return ticks


def idle_cpu(root_pid: int, home: Path, seconds: float, runtime: str = "process") -> dict[str, object]:
    """CPU used by the platform's processes over `seconds` with no traffic, as % of one core."""
    pids = platform_processes(root_pid, home, runtime)
    hz = os.sysconf("SC_CLK_TCK")
    before = cpu_ticks(pids)
    started = time.monotonic()
    time.sleep(seconds)
    after = cpu_ticks(pids)
    elapsed = time.monotonic() - started
    by_label: dict[str, float] = {}
    for pid, label in pids.items():
        if pid in before and pid in after:
            used = (after[pid] - before[pid]) / hz
            by_label[label] = by_label.get(label, 0.0) + used
    total = sum(by_label.values())
    return {
        "seconds": round(elapsed, 2),
        "processes": len(pids),
        "percent_of_core": round(100 * total / elapsed, 2),
        "by_process_percent": {k: round(100 * v / elapsed, 2) for k, v in sorted(by_label.items())},
    }


# --- memory of one process, for the bulk transfers ----------------------------------------------------


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process in KiB; empty if it is gone."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out[name] = int(value.split()[0])
    except OSError:
        return {}
    return out


def reset_peak_rss(pid: int) -> bool:
    """Resets VmHWM to the current RSS (Linux clear_refs "5"); False if that is not allowed."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True
