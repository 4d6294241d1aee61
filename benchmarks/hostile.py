"""Hostile clients for the "hostile input at the edge" goal: unfinished huge headers and heads
sent a line a second, against one app while another app's warm latency is measured.

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
from typing import Any

from benchmarks import load
from benchmarks import platform as berth_up

BIG_HEADER = 64 << 20  # the attack: four connections each sending an unfinished 64 MiB header
CHUNK = 1 << 20


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

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._big_loop, daemon=True) for _ in range(self.big)]
        self._threads.append(threading.Thread(target=self._slow_loop, daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self) -> AttackStats:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return self.stats

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


def measure(
    wrk: Callable[[str, str, str, int, int, float], load.WrkResult],
    platform: berth_up.Platform,
    victim: berth_up.Endpoint,
    target: berth_up.Endpoint,
    seconds: float,
) -> dict[str, Any]:
    """The victim's warm p50 (c1) quiet, then again while `target` is under the header attack,
    and the edge's and agent's RSS growth meanwhile (peak minus before)."""
    quiet = wrk(victim.target, victim.host, "/", 1, 1, seconds)
    procs = berth_up.platform_processes(platform.process.pid, platform.home)
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
    attack = HeaderAttack(target.port, target.host)
    attack.start()
    try:
        time.sleep(2.0)  # the attack in full swing before measuring
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
    # No answer at all during the attack (an edge stalled parsing the headers) has no p50: None.
    p50_during = during.percentiles_us["p50"] / 1000 if during.requests else None
    return {
        "attack": f"{attack.big} connections each sending an unfinished {BIG_HEADER >> 20} MiB header "
        f"(reconnecting when refused) and {attack.slow} sending one header line a second, to {target.host}",
        "stats": asdict(stats),
        "rss_growth_mib": growth,
        "peak_from": "VmHWM and 50 ms samples" if peaks_reset else "50 ms samples of VmRSS",
        "victim": victim.host,
        "victim_quiet": quiet.as_dict(),
        "victim_during": during.as_dict(),
        "p50_quiet_ms": round(p50_quiet, 3),
        "p50_during_ms": None if p50_during is None else round(p50_during, 3),
        "p50_ratio": None if p50_during is None or not p50_quiet else round(p50_during / p50_quiet, 2),
    }
