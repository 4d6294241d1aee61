"""Hostile clients for the "hostile input at the edge" goal, each against one app while another
app's warm latency is measured, with the edge's and the agent's RSS growth meanwhile:

- the header attack: unfinished huge headers and heads sent a line a second;
- a WebSocket flood to a client that never reads (the app pushes 64 KiB messages in a loop);
- an 8 MB upload into an app that blocks its event loop (its container stops reading its socket).

Every attacker connects from this machine, as the measuring client does, so together they stay
under the edge's per-address connection cap: what is measured is the edge's memory and the cost
of reading and refusing, not the cap turning the measuring client away.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from benchmarks import load
from benchmarks import platform as berth_up

BIG_HEADER = 64 << 20  # the attack: four connections each sending an unfinished 64 MiB header
CHUNK = 1 << 20
FLOW_APP = Path(__file__).resolve().parent / "apps" / "flow.py"
UPLOAD_BYTES = 8_000_000  # the "8 MB upload into a blocking app"
SETTLE_SECONDS = 2.0  # an attack in full swing before the victim is timed

Wrk = Callable[[str, str, str, int, int, float], load.WrkResult]


class Attack(Protocol):
    description: str

    def start(self) -> None: ...

    def stop(self) -> dict[str, Any]: ...


@dataclass
class AttackStats:
    big_connections: int = 0
    big_refused: dict[str, int] = field(default_factory=dict)  # first answer line -> count
    big_bytes_sent: int = 0
    slow_connections: int = 0
    slow_closed_by_edge: int = 0


class HeaderAttack:
    """`big` threads each sending an unfinished header of BIG_HEADER bytes (reconnecting when the
    edge refuses it), and `slow` connections each sending one header line a second."""

    def __init__(self, port: int, host: str, *, big: int = 4, slow: int = 64) -> None:
        self.port = port
        self.host = host.encode()
        self.big = big
        self.slow = slow
        self.stats = AttackStats()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self.description = (
            f"{big} connections each sending an unfinished {BIG_HEADER >> 20} MiB header "
            f"(reconnecting when refused) and {slow} sending one header line a second, to {host}"
        )

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._big_loop, daemon=True) for _ in range(self.big)]
        self._threads.append(threading.Thread(target=self._slow_loop, daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> dict[str, Any]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return asdict(self.stats)

    def _connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=10)

    def _big_loop(self) -> None:
        filler = b"a" * CHUNK
        while not self._stop.is_set():
            sent = 0
            try:
                with self._connect() as sock:
                    with self._lock:
                        self.stats.big_connections += 1
                    sock.sendall(b"GET / HTTP/1.1\r\nHost: " + self.host + b"\r\nX-Pad: ")
                    while sent < BIG_HEADER and not self._stop.is_set():
                        sock.sendall(filler)
                        sent += len(filler)
                    answer = self._first_line(sock)
            except OSError:
                answer = "reset while sending" if sent else "refused"
            with self._lock:
                self.stats.big_bytes_sent += sent
                self.stats.big_refused[answer] = self.stats.big_refused.get(answer, 0) + 1
            self._stop.wait(0.05)

    @staticmethod
    def _first_line(sock: socket.socket) -> str:
        try:
            data = sock.recv(200)
        except OSError:
            return "reset"
        return data.split(b"\r\n", 1)[0].decode(errors="replace") or "closed"

    def _slow_loop(self) -> None:
        socks: list[socket.socket] = []
        while not self._stop.is_set():
            while len(socks) < self.slow:
                try:
                    sock = self._connect()
                    sock.sendall(b"GET / HTTP/1.1\r\nHost: " + self.host + b"\r\n")
                    sock.setblocking(False)
                except OSError:
                    break
                socks.append(sock)
                self.stats.slow_connections += 1
            alive = []
            for sock in socks:
                try:
                    sock.send(b"X-Slow: 1\r\n")
                    if self._closed(sock):
                        raise ConnectionError
                    alive.append(sock)
                except OSError:
                    sock.close()
                    self.stats.slow_closed_by_edge += 1
            socks = alive
            self._stop.wait(1.0)
        for sock in socks:
            sock.close()

    @staticmethod
    def _closed(sock: socket.socket) -> bool:
        """Whether the edge answered (408) or closed: anything to read means it is done with us."""
        try:
            sock.recv(1, socket.MSG_PEEK)
        except BlockingIOError:
            return False
        return True


class WebSocketFlood:
    """`clients` WebSocket connections to an app that pushes 64 KiB messages to each in a loop;
    none of them reads (each takes one message, then leaves the rest in the kernel's buffers)."""

    def __init__(self, target: berth_up.Endpoint, clients: int = 1) -> None:
        self.target = target
        self.clients = clients
        self._connections: list[Any] = []
        self.description = f"{clients} WebSocket client(s) that never read, the app pushing 64 KiB messages"

    def start(self) -> None:
        from websockets.sync.client import connect

        for _ in range(self.clients):
            sock = socket.create_connection(("127.0.0.1", self.target.port), timeout=30)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
            self._connections.append(
                connect(f"ws://{self.target.host}/flood", sock=sock, max_queue=1, close_timeout=2)
            )

    def stop(self) -> dict[str, Any]:
        pushed = _flow_status(self.target)["flood_sent"]
        for connection in self._connections:
            try:
                connection.close()
            except Exception:  # noqa: BLE001 - a client that never read may close uncleanly
                pass
        return {"clients": self.clients, "app_pushed_mib": round(pushed / (1 << 20), 1)}


class BlockingUpload:
    """One upload of UPLOAD_BYTES into an app whose handler blocks its event loop `block` seconds
    first, so its container reads nothing from its socket meanwhile."""

    def __init__(self, target: berth_up.Endpoint, block: float) -> None:
        self.target = target
        self.block = block
        self._result: list[load.Transfer | Exception] = []
        self._thread = threading.Thread(target=self._upload, daemon=True)
        self.description = (
            f"a {UPLOAD_BYTES / 1e6:g} MB upload into an app blocking its event loop {block:g} s"
        )

    def _upload(self) -> None:
        try:
            path = f"/upload?block={self.block:g}"
            self._result.append(
                load.upload(self.target.port, self.target.host, path, UPLOAD_BYTES, self.block + 60)
            )
        except Exception as exc:  # noqa: BLE001 - reported in the stats
            self._result.append(exc)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> dict[str, Any]:
        self._thread.join(timeout=self.block + 90)
        result = self._result[0] if self._result else TimeoutError("the upload did not end")
        if isinstance(result, Exception):
            return {"upload": f"failed: {type(result).__name__}: {result}"}
        return {"upload_status": result.status, "upload_answer": result.answer[:100].decode(errors="replace")}


def _flow_status(target: berth_up.Endpoint) -> dict[str, Any]:
    response = httpx.get(target.target + "status", headers={"host": target.host}, timeout=120)
    response.raise_for_status()
    return dict(response.json())


def under_attack(
    wrk: Wrk, platform: berth_up.Platform, victim: berth_up.Endpoint, attack: Attack, seconds: float
) -> dict[str, Any]:
    """The victim's warm p50 (c1) quiet, then again while `attack` runs, and the edge's and the
    agent's RSS growth meanwhile (peak minus before)."""
    quiet = wrk(victim.target, victim.host, "/", 1, 1, seconds)
    procs = berth_up.platform_processes(platform.process.pid, platform.home, platform.runtime)
    watched = {pid: label for pid, label in procs.items() if label in ("services.edge", "services.agent")}
    peaks_reset = all(berth_up.reset_peak_rss(pid) for pid in watched)
    before = {pid: berth_up.memory_kib(pid).get("VmRSS", 0) for pid in watched}
    peaks = dict(before)
    sampling = threading.Event()

    def sample() -> None:
        while not sampling.wait(0.05):
            for pid in peaks:
                peaks[pid] = max(peaks[pid], berth_up.memory_kib(pid).get("VmRSS", 0))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    attack.start()
    try:
        time.sleep(SETTLE_SECONDS)  # the attack in full swing before measuring
        during = wrk(victim.target, victim.host, "/", 1, 1, seconds)
    finally:
        stats = attack.stop()
        sampling.set()
        sampler.join()
    growth = {}
    for pid, label in watched.items():
        peak = max(peaks[pid], berth_up.memory_kib(pid).get("VmHWM", 0) if peaks_reset else 0)
        growth[label] = round((peak - before[pid]) / 1024, 1)
    p50_quiet = quiet.percentiles_us["p50"] / 1000
    # No answer at all during the attack (an edge or agent stalled) has no p50: None.
    p50_during = during.percentiles_us["p50"] / 1000 if during.requests else None
    return {
        "attack": attack.description,
        "stats": stats,
        "rss_growth_mib": growth,
        "peak_from": "VmHWM and 50 ms samples" if peaks_reset else "50 ms samples of VmRSS",
        "victim": victim.host,
        "victim_quiet": quiet.as_dict(),
        "victim_during": during.as_dict(),
        "p50_quiet_ms": round(p50_quiet, 3),
        "p50_during_ms": None if p50_during is None else round(p50_during, 3),
        "p50_ratio": None if p50_during is None or not p50_quiet else round(p50_during / p50_quiet, 2),
    }


def measure(
    wrk: Wrk,
    platform: berth_up.Platform,
    victim: berth_up.Endpoint,
    target: berth_up.Endpoint,
    seconds: float,
) -> dict[str, Any]:
    """The header attack on `target` while the victim is timed."""
    return under_attack(wrk, platform, victim, HeaderAttack(target.port, target.host), seconds)


def measure_flow(
    wrk: Wrk, platform: berth_up.Platform, victim: berth_up.Endpoint, seconds: float
) -> dict[str, dict[str, Any]]:
    """The flow-control attacks on an app of their own (benchmarks/apps/flow.py), one after the
    other, while the victim (another app on the same agent) is timed."""
    target = next(iter(platform.deploy(FLOW_APP).values()))
    _flow_status(target)  # boots its container before anything is timed
    out = {
        "ws_flood": under_attack(wrk, platform, victim, WebSocketFlood(target), seconds),
        "blocking_upload": under_attack(
            wrk, platform, victim, BlockingUpload(target, SETTLE_SECONDS + seconds + 2.0), seconds
        ),
    }
    platform.stop_app("bench-flow")
    return out


FLOW_ROWS = (
    ("ws_flood", "WS flood to a non-reading client"),
    ("blocking_upload", "8 MB upload into a blocking app"),
)


def flow_rows(
    flow: dict[str, dict[str, Any]] | None, goal_rss_mib: float, goal_p50_ratio: float
) -> list[tuple[str, str, str, str, str, str]]:
    """(metric, platform, baseline, delta, goal, result) rows of measure_flow's results: the edge's
    and the agent's RSS growth, and the victim's warm p50 during the attack against before it."""
    out: list[tuple[str, str, str, str, str, str]] = []
    for key, label in FLOW_ROWS:
        item = (flow or {}).get(key)
        if not item:
            continue
        growth = item["rss_growth_mib"]
        worst = max(growth.values(), default=0.0)
        out.append(
            (
                f"{label}: edge/agent RSS growth",
                " / ".join(f"{growth.get(k, 0):.1f}" for k in ("services.edge", "services.agent")) + " MiB",
                "-",
                ", ".join(f"{k} {v}" for k, v in item["stats"].items()),
                f"< {goal_rss_mib:g} MiB",
                "pass" if worst < goal_rss_mib else "MISS",
            )
        )
        ratio = item["p50_ratio"]
        out.append(
            (
                f"{label}: other app's warm p50 during, c1",
                "no answer" if ratio is None else f"{item['p50_during_ms']:.3f} ms",
                f"{item['p50_quiet_ms']:.3f} ms",
                "x-" if ratio is None else f"x{ratio:.2f}",
                f"<= {goal_p50_ratio:g}x before",
                "pass" if ratio is not None and ratio <= goal_p50_ratio else "MISS",
            )
        )
    return out
