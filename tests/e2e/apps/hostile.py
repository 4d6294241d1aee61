"""A hostile tenant (tests/e2e/test_isolation.py): tries what it should never manage from inside
its container, and reports everything it could read or do as JSON. The test asserts each item,
and that no secret of the platform or of its neighbour appears anywhere in the report."""

import glob
import json
import os
import socket
import sysconfig

import berth

app = berth.App("hostile", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def _read(path: str) -> str | None:
    """The file's text (first 4 KiB) when readable; None otherwise."""
    try:
        with open(path, "rb") as f:
            return f.read(4096).decode(errors="replace")
    except OSError:
        return None


def _listing(path: str) -> list[str] | None:
    try:
        return sorted(os.listdir(path))
    except OSError:
        return None


def _walk(root: str, limit: int = 200) -> list[str]:
    """Files reachable under `root` (bounded)."""
    found: list[str] = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            found.append(os.path.join(dirpath, name))
            if len(found) >= limit:
                return found
    return found


def _tree(root: str) -> dict[str, list[str] | None]:
    """`root` and each directory in it, listed."""
    top = _listing(root)
    tree = {root: top}
    for name in top or []:
        path = os.path.join(root, name)
        if os.path.isdir(path):
            tree[path] = _listing(path)
    return tree


def _try_write(directory: str) -> str:
    """ "wrote" or the errno name."""
    target = os.path.join(directory, "hostile-was-here.py")
    try:
        with open(target, "w") as f:
            f.write("PWNED = True\n")
    except OSError as exc:
        return str(exc.strerror)
    return "wrote"


def _try_append(path: str) -> str:
    try:
        with open(path, "a") as f:
            f.write("\n# hostile\n")
    except OSError as exc:
        return str(exc.strerror)
    return "wrote"


def _nats(port: int) -> str:
    """ "closed", "not-nats", "refused" (NATS said no) or "accepted"."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
    except OSError:
        return "closed"
    with sock:
        sock.settimeout(3)
        try:
            if not sock.recv(4096).startswith(b"INFO "):
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


def _connect_tcp(target: str) -> str:
    """ "connected" or why not, as the errno text ("Connection refused", "timed out")."""
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            return "connected"
    except OSError as exc:
        return str(exc.strerror or exc)


def _connect_unix(path: str) -> str:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.connect(path)
    except OSError as exc:
        return str(exc.strerror)
    finally:
        sock.close()
    return "connected"


@app.function()
@berth.fastapi_endpoint()
def probe(
    home: str = "",
    other_home: str = "",
    victim_pids: str = "",
    victim_state: str = "",
    agent_sockets: str = "",
    nats_port: int = 0,
    connect: str = "",
) -> dict:
    report: dict = {"uid": os.getuid(), "gid": os.getgid(), "pid": os.getpid()}

    # Processes: what /proc shows, and every environment and command line it lets us read.
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    report["pids"] = pids
    report["environs"] = {str(p): _read(f"/proc/{p}/environ") for p in pids if p != os.getpid()}
    report["cmdlines"] = {str(p): _read(f"/proc/{p}/cmdline") for p in pids}
    report["victim_environ"] = {p: _read(f"/proc/{p}/environ") for p in victim_pids.split(",") if p}
    signalled = {}
    for p in filter(None, victim_pids.split(",")):
        try:
            os.kill(int(p), 0)
            signalled[p] = "reachable"
        except OSError as exc:
            signalled[p] = str(exc.strerror)
    report["victim_signal"] = signalled
    report["own_environ_keys"] = sorted(os.environ)

    # The platform's home: its key, its API token, the bus credentials, the other containers.
    report["home_listing"] = _listing(home)
    secrets = {}
    for relative in ("secret.key", "config.toml", "credentials", "run/nats.url", "logs/scheduler.log"):
        secrets[relative] = _read(os.path.join(home, relative))
    for seed in glob.glob(os.path.join(home, "credentials", "*")):
        secrets[seed] = _read(seed)
    report["home_files"] = secrets
    report["home_tree"] = _tree(home) if home else {}
    report["boot_orders"] = {
        p: _read(p) for p in glob.glob(os.path.join(home, "agent", "*", "containers", "*", "*"))
    }
    report["victim_state"] = _listing(victim_state)
    report["victim_files"] = {p: _read(p) for p in _walk(victim_state)} if victim_state else {}

    # Scratch space shared with others, and other platforms' homes under /tmp.
    report["tmp"] = _listing("/tmp")
    report["dev_shm"] = _listing("/dev/shm")
    report["var_tmp"] = _listing("/var/tmp")
    report["other_home"] = _listing(other_home)
    report["other_home_key"] = _read(os.path.join(other_home, "secret.key")) if other_home else None
    report["agent_sockets"] = _listing(agent_sockets)
    report["run"] = _listing("/run")

    # The Docker socket.
    report["docker"] = {p: (os.path.exists(p), _connect_unix(p)) for p in DOCKER_SOCKETS}

    # The image, shared with every app built from the same spec.
    purelib = sysconfig.get_paths()["purelib"]
    report["venv_write"] = _try_write(purelib)
    fastapi_init = os.path.join(purelib, "fastapi", "__init__.py")
    report["venv_append"] = _try_append(fastapi_init) if os.path.exists(fastapi_init) else "missing"
    import berth as sdk

    report["runtime_layer_write"] = _try_write(os.path.dirname(os.path.dirname(sdk.__file__)))
    report["code_write"] = _try_write(os.environ.get("BERTH_CODE_DIR", "/nonexistent"))
    report["home_write"] = _try_write(os.path.expanduser("~"))
    report["tmp_write"] = _try_write("/tmp")

    # The bus and the API.
    report["nats"] = _nats(nats_port) if nats_port else "untried"

    # The network: this host's own addresses, metadata services, the outside (host:port, commas).
    report["connect"] = {target: _connect_tcp(target) for target in connect.split(",") if target}
    return json.loads(json.dumps(report, default=str))
