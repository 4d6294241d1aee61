"""Load generation: wrk for latency and throughput, raw sockets for time to first byte, httpx for bursts."""

from __future__ import annotations

import asyncio
import builtins
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

# wrk's own summary rounds to 10 µs in text; this prints the raw microsecond percentiles instead.
REPORT_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("BENCH requests %d\n", summary.requests))
  io.write(string.format("BENCH duration_us %d\n", summary.duration))
  io.write(string.format("BENCH errors %d %d %d %d %d\n",
    e.connect, e.read, e.write, e.status, e.timeout))
  io.write(string.format("BENCH mean_us %.1f\n", latency.mean))
  io.write(string.format("BENCH max_us %d\n", latency.max))
  for _, p in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("BENCH p%s_us %d\n", tostring(p), latency:percentile(p)))
  end
end
"""


class LoadError(Exception):
    pass


def ensure_wrk() -> str:
    """Path to wrk, installing it with apt-get when this is root on Debian/Ubuntu."""
    found = shutil.which("wrk")
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt and os.geteuid() == 0:
        print("wrk is missing: installing it with apt-get ...", flush=True)
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = [apt, "install", "-y", "--no-install-recommends", "wrk"]
        if subprocess.run(install, capture_output=True, timeout=300, env=env).returncode != 0:
            subprocess.run([apt, "update"], capture_output=True, timeout=300, env=env)
            result = subprocess.run(install, capture_output=True, text=True, timeout=300, env=env)
            if result.returncode != 0:
                raise LoadError(f"apt-get install wrk failed:\n{result.stderr[-2000:]}")
        found = shutil.which("wrk")
        if found:
            return found
    raise LoadError(
        "wrk (HTTP load generator) is not installed.\n"
        "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y wrk\n"
        "  Fedora: sudo dnf install wrk    macOS: brew install wrk\n"
        "  or build it from source: https://github.com/wg/wrk"
    )


@dataclass
class WrkResult:
    connections: int
    threads: int
    duration_s: float
    requests: int
    requests_per_s: float  # every response, errors included (as wrk counts)
    ok_requests_per_s: float  # responses without an error or a status >= 400
    errors: dict[str, int]
    mean_us: float
    max_us: int
    percentiles_us: dict[str, int] = field(default_factory=dict)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


_script_path: str | None = None


def _script() -> str:
    global _script_path
    if _script_path is None or not Path(_script_path).exists():
        fd, path = tempfile.mkstemp(prefix="berth-bench-", suffix=".lua")
        with os.fdopen(fd, "w") as out:
            out.write(REPORT_LUA)
        _script_path = path
    return _script_path


def remove_script() -> None:
    """Deletes the temporary Lua report script, if one was written."""
    global _script_path
    if _script_path is not None:
        Path(_script_path).unlink(missing_ok=True)
        _script_path = None


def wrk(
    wrk_bin: str, url: str, host: str, *, connections: int, threads: int, seconds: float, path: str = "/"
) -> WrkResult:
    """One wrk run against `url` + `path` with Host: `host`; parses the Lua report."""
    argv = [
        wrk_bin,
        f"-c{connections}",
        f"-t{threads}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
        "-s",
        _script(),
        "-H",
        f"Host: {host}",
        url.rstrip("/") + path,
    ]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired as exc:
        raise LoadError(f"wrk did not finish within {seconds + 60:.0f}s") from exc
    if result.returncode != 0:
        raise LoadError(f"wrk failed ({result.returncode}):\n{result.stderr}{result.stdout}")
    values: dict[str, list[str]] = {}
    for line in result.stdout.splitlines():
        if line.startswith("BENCH "):
            key, *rest = line.split()[1:]
            values[key] = rest
    if "requests" not in values:
        raise LoadError(f"cannot parse wrk output:\n{result.stdout}")
    requests = int(values["requests"][0])
    duration = int(values["duration_us"][0]) / 1e6
    connect, read, write, status, timeout = (int(v) for v in values["errors"])
    percentiles = {
        key.removesuffix("_us"): int(float(v[0]))
        for key, v in values.items()
        if re.fullmatch(r"p[\d.]+_us", key)
    }
    return WrkResult(
        connections=connections,
        threads=threads,
        duration_s=round(duration, 3),
        requests=requests,
        requests_per_s=round(requests / duration, 1) if duration else 0.0,
        ok_requests_per_s=round(max(requests - status, 0) / duration, 1) if duration else 0.0,
        errors={"connect": connect, "read": read, "write": write, "status": status, "timeout": timeout},
        mean_us=float(values["mean_us"][0]),
        max_us=int(float(values["max_us"][0])),
        percentiles_us=percentiles,
    )


@dataclass
class FirstByte:
    seconds: float  # request sent -> first response byte
    total_seconds: float  # request sent -> whole response read
    status: int
    body: bytes


def first_byte(port: int, host: str, path: str = "/", timeout: float = 60.0) -> FirstByte:
    """One GET over a fresh connection; times from the request's send to the first byte back."""
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: berth-bench\r\nAccept: */*\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sock.sendall(request)
        first = sock.recv(65536)
        got_first = time.perf_counter()
        if not first:
            raise LoadError("connection closed before any response byte")
        chunks = [first]
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
        done = time.perf_counter()
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].split()
    status = int(status_line[1]) if len(status_line) > 1 and status_line[1].isdigit() else 0
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return FirstByte(seconds=got_first - started, total_seconds=done - started, status=status, body=body)


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, rest = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += rest[:size]
        data = rest[size + 2 :]
    return bytes(out)


@dataclass
class BurstResult:
    requests: int
    ok: int
    errors: int
    statuses: dict[str, int]
    total_seconds: float
    latency_p50_s: float
    latency_max_s: float
    error_samples: list[str]


async def _burst(port: int, host: str, count: int, timeout: float, path: str) -> BurstResult:
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    statuses: dict[str, int] = {}
    samples: list[str] = []
    latencies: list[float] = []

    async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:

        async def one() -> None:
            begun = time.perf_counter()
            try:
                response = await client.get(f"http://127.0.0.1:{port}{path}", headers={"host": host})
                key = str(response.status_code)
                if response.status_code != 200 and len(samples) < 5:
                    samples.append(f"{response.status_code}: {response.text[:200]}")
            except httpx.HTTPError as exc:
                key = type(exc).__name__
                if len(samples) < 5:
                    samples.append(f"{key}: {exc}")
            latencies.append(time.perf_counter() - begun)
            statuses[key] = statuses.get(key, 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        total = time.perf_counter() - started
    latencies.sort()
    ok = statuses.get("200", 0)
    return BurstResult(
        requests=count,
        ok=ok,
        errors=count - ok,
        statuses=statuses,
        total_seconds=round(total, 3),
        latency_p50_s=round(latencies[len(latencies) // 2], 3),
        latency_max_s=round(latencies[-1], 3),
        error_samples=samples,
    )


def burst(port: int, host: str, count: int = 200, timeout: float = 60.0, path: str = "/") -> BurstResult:
    """`count` concurrent GETs on `count` connections, all started at once."""
    return asyncio.run(_burst(port, host, count, timeout, path))


# --- bulk transfers ------------------------------------------------------------------------------------

_BULK_BLOCK = 1024 * 1024


@dataclass
class Transfer:
    status: int
    bytes: int
    seconds: float
    answer: builtins.bytes = b""  # builtins: the field above shadows the type in this class

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds > 0 else 0.0


def _read_head(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers (lower-case names) and the body bytes read past the head."""
    data = b""
    while b"\r\n\r\n" not in data:
        got = sock.recv(65536)
        if not got:
            raise LoadError(f"connection closed before the response head: {data[:200]!r}")
        data += got
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, rest


def upload(port: int, host: str, path: str, size: int, timeout: float = 120.0) -> Transfer:
    """POSTs `size` bytes (content-length, 1 MiB writes) over a raw socket; the clock stops at the
    response, so it covers the app having read every byte."""
    block = b"\xa5" * _BULK_BLOCK
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        began = time.perf_counter()
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {size}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n".encode()
        )
        left = size
        while left:
            piece = block if left >= len(block) else block[:left]
            sock.sendall(piece)
            left -= len(piece)
        status, headers, body = _read_head(sock)
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            got = sock.recv(65536)
            if not got:
                break
            body += got
        return Transfer(status, size, time.perf_counter() - began, body)


def download(port: int, host: str, path: str, timeout: float = 120.0) -> Transfer:
    """GETs a content-length response over a raw socket, discarding the body as it comes."""
    buffer = bytearray(_BULK_BLOCK)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        began = time.perf_counter()
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        status, headers, body = _read_head(sock)
        length = int(headers.get("content-length", "0"))
        received = len(body)
        while received < length:
            got = sock.recv_into(buffer)
            if not got:
                break
            received += got
        return Transfer(status, received, time.perf_counter() - began)
