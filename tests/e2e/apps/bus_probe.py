"""A hostile tenant: looks for the platform's bus from inside its container.

It lists every TCP port listening in its network namespace (from /proc/net/tcp), adds the port it is
told about, and on each tries what an attacker would: speak NATS without credentials and subscribe
to everything. It reports which ports spoke NATS at all and which accepted it, and whether anything
of the bus is in its environment or arguments.
"""

import os
import socket
import sys

import berth

app = berth.App("bus-probe", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


def _listening_ports() -> set[int]:
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def _try_nats(port: int) -> str:
    """ "closed", "not-nats", "refused" (NATS said no) or "accepted" (subscribed to `>`)."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return "closed"
    with sock:
        sock.settimeout(2)
        try:
            greeting = sock.recv(4096)
            if not greeting.startswith(b"INFO "):
                return "not-nats"
            sock.sendall(b'CONNECT {"verbose":false,"pedantic":false}\r\nSUB > 1\r\nPING\r\n')
            answer = b""
            while b"PONG" not in answer and b"-ERR" not in answer:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            return "not-nats"
    return "accepted" if b"PONG" in answer and b"-ERR" not in answer else "refused"


@app.function()
@berth.fastapi_endpoint()
def probe(port: int = 0) -> dict:
    ports = _listening_ports() | ({port} if port else set())
    results = {str(p): _try_nats(p) for p in sorted(ports)}
    environ = "\n".join(f"{k}={v}" for k, v in os.environ.items())
    return {
        "results": results,
        "bus_in_environment": "nats://" in environ or "BERTH_NATS" in environ or ".nk" in environ,
        "bus_in_arguments": any("nats" in arg for arg in sys.argv),
    }
