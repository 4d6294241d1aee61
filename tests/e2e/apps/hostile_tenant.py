"""A hostile tenant on the Docker runtime: reports everything its container lets it see or do.

The test holds the secrets (another app's secret value, the platform's keys and tokens) and checks
that none of them appear in what this app could read; the app itself is told nothing secret.
"""

import json
import os
import socket
import stat

import berth

app = berth.App("hostile-tenant", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))

SKIP = ("/proc", "/sys", "/dev")
SCAN = ("/berth", "/tmp", "/run", "/var/run", "/root", "/home", "/mnt", "/media", "/srv", "/etc")


def _read(path: str, limit: int = 1 << 20) -> str:
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode(errors="replace")
    except OSError as exc:
        return f"<{type(exc).__name__}>"


def _processes() -> dict[str, dict[str, str]]:
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            found[pid] = {
                "cmdline": _read(f"/proc/{pid}/cmdline").replace("\0", " "),
                "environ": _read(f"/proc/{pid}/environ").replace("\0", "\n"),
            }
    return found


def _sockets() -> list[str]:
    found = []
    for root, dirs, files in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(root, d) not in SKIP]
        for name in files:
            path = os.path.join(root, name)
            try:
                if stat.S_ISSOCK(os.lstat(path).st_mode):
                    found.append(path)
            except OSError:
                continue
    return found


def _files() -> dict[str, str]:
    contents = {}
    for top in SCAN:
        for root, _, files in os.walk(top):
            for name in files:
                path = os.path.join(root, name)
                if os.path.isfile(path) and not os.path.islink(path):
                    contents[path] = _read(path, 1 << 16)
    return contents


def _connect(port: int) -> str:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return "open"
    except OSError:
        return "closed"


def _write(path: str) -> str:
    try:
        with open(path, "w") as f:
            f.write("x")
    except OSError as exc:
        return type(exc).__name__
    os.unlink(path)
    return "written"


def _become_root() -> str:
    try:
        os.setuid(0)
    except OSError as exc:
        return type(exc).__name__
    return "root"


@app.function()
@berth.fastapi_endpoint()
def probe(ports: str = "", paths: str = "") -> dict:
    status = dict(line.split(":\t", 1) for line in _read("/proc/self/status").splitlines() if ":\t" in line)
    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "cap_eff": status.get("CapEff", "").strip(),
        "cap_bnd": status.get("CapBnd", "").strip(),
        "no_new_privs": status.get("NoNewPrivs", "").strip(),
        "setuid_0": _become_root(),
        "writes": {
            p: _write(p) for p in ("/etc/berth-probe", "/usr/berth-probe", "/berth-probe", "/tmp/berth-probe")
        },
        "ports": {p: _connect(int(p)) for p in ports.split(",") if p},
        "paths": {p: os.path.exists(p) for p in paths.split(",") if p},
        "sockets": _sockets(),
        "mounts": _read("/proc/self/mountinfo"),
        "processes": _processes(),
        "files": _files(),
        "environ": json.dumps(dict(os.environ)),
    }
