"""`berth up`: the whole platform on one machine, each service its own OS process.

Start order follows dependencies (NATS, builder, scheduler, agent, edge); each service reports
readiness through a ready file, so nothing here sleeps on a guess. Ctrl-C stops them in reverse.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from berth._errors import Error
from berth.cli.config import ClientConfig, load, save
from services.common import credentials
from services.launcher import nats

STOP_GRACE = 15.0
READY_TIMEOUT = 60.0


def _die_with_parent() -> None:
    # If `berth up` is killed outright, its services must not linger: the kernel sends SIGTERM.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.setsid()


@dataclass
class Service:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **self.env},
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - needed for PR_SET_PDEATHSIG
        )
        log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if not self.alive():
            return
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class Platform:
    """The running services of one `berth up`."""

    def __init__(
        self, home: Path, port: int, *, echo: Callable[[str], None], rate_limit: float | None = None
    ) -> None:
        self.home = home
        self.port = port
        self.rate_limit = rate_limit  # requests/s per workspace at the edge; None: BERTH_RATE_LIMIT or off
        self.echo = echo
        self.services: list[Service] = []
        self.run_dir = home / "run"
        self.logs = home / "logs"
        self.edge_url = ""
        self.api = ""
        self.isolation = ""

    def _ready_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.ready"

    def _wait_ready(self, service: Service, path: Path, timeout: float = READY_TIMEOUT) -> str:
        from services.common.readiness import wait_ready_file

        try:
            return wait_ready_file(path, timeout=timeout, alive=service.alive)
        except RuntimeError:
            raise Error(f"{service.name} exited during start-up:\n{service.tail()}") from None
        except TimeoutError:
            raise Error(f"{service.name} was not ready within {timeout:.0f}s:\n{service.tail()}") from None

    def start(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.run_dir.glob("*.ready"):
            stale.unlink()
        agent_id = _agent_id(self.home)
        nats_url = self._start_nats(agent_id)
        nats.provision_state(nats_url, self.home)
        token_file, token_key_file = self._token_files()
        port = self.port or _free_port()
        py = sys.executable

        def env(identity: str) -> dict[str, str]:
            seed = credentials.seed_file(self.home, identity)
            return {
                "BERTH_NATS_URL": nats_url,
                "BERTH_HOME": str(self.home),
                "BERTH_NATS_SEED_FILE": str(seed),
            }

        tokens = {"BERTH_TOKEN_KEY_FILE": str(token_key_file)}
        builder = self._spawn(
            "builder",
            [py, "-m", "services.builder", "--ready-file", str(self._ready_file("builder"))],
            {**env(credentials.BUILDER), **tokens},
        )
        builder_addr = self._wait_ready(builder, self._ready_file("builder"))
        # A key the operator set in BERTH_SECRET_KEY reaches the scheduler through the environment it
        # inherits; otherwise it reads this home's key file (nothing secret in /proc/<pid>/environ).
        secret_key_file = "" if os.environ.get("BERTH_SECRET_KEY") else str(_secret_key_file(self.home))
        scheduler = self._spawn(
            "scheduler",
            [
                py,
                "-m",
                "services.scheduler",
                "--builder",
                builder_addr,
                "--edge-port",
                str(port),
                "--ready-file",
                str(self._ready_file("scheduler")),
            ],
            {
                **env(credentials.SCHEDULER),
                **tokens,
                "BERTH_TOKEN_FILE": str(token_file),
                "BERTH_SECRET_KEY_FILE": secret_key_file,
            },
        )
        self.api = self._wait_ready(scheduler, self._ready_file("scheduler"))
        agent = self._spawn(
            "agent",
            [py, "-m", "services.agent", "--agent-id", agent_id]
            + ["--ready-file", str(self._ready_file("agent"))],
            env(credentials.agent_identity(agent_id)),
        )
        self._wait_ready(agent, self._ready_file("agent"))
        self.isolation = _isolation(agent.log_path)
        edge = self._spawn(
            "edge",
            [py, "-m", "services.edge", "--port", str(port), "--ready-file", str(self._ready_file("edge"))]
            + ([] if self.rate_limit is None else ["--rate-limit", f"{self.rate_limit:g}"]),
            env(credentials.EDGE),
        )
        self._wait_ready(edge, self._ready_file("edge"))
        self.edge_url = f"http://localhost:{port}"
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", edge)
        token = token_file.read_text().strip()
        # A self-signed API certificate is its own CA; an operator's CA comes in BERTH_CA_FILE.
        ca_file = os.environ.get("BERTH_CA_FILE") or os.environ.get("BERTH_TLS_CERT", "")
        save(ClientConfig(server=self.api, token=token, edge_url=self.edge_url, ca_file=ca_file), self.home)

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Service:
        service = Service(name, argv, self.logs / f"{name}.log", env)
        service.start()
        self.services.append(service)
        return service

    def _start_nats(self, agent_id: str) -> str:
        log_path = self.logs / "nats.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("")
        config = nats.write_config(self.home, [agent_id])
        service = self._spawn("nats", nats.argv(config, self.home, log_path), {})
        url = nats.wait_listening(log_path, service.alive)
        # Tests and operators' tools find the bus here; connecting still takes an identity's seed.
        (self.run_dir / "nats.url").write_text(url)
        return url

    def _token_files(self) -> tuple[Path, Path]:
        """The API token the CLI uses (kept from an earlier start, else new) and the key the
        scheduler signs token records with; the scheduler stores the token's record itself."""
        from services.common import auth

        token_file = credentials.directory(self.home) / "api.token"
        if not token_file.exists():
            token = load(self.home).token or auth.new_token()
            credentials.write_private(token_file, token.encode())
        key_file = credentials.directory(self.home) / "token.key"
        if not key_file.exists():
            credentials.write_private(key_file, os.urandom(32).hex().encode())
        return token_file, key_file

    def first_dead(self) -> Service | None:
        return next((s for s in self.services if not s.alive()), None)

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()
        for stale in self.run_dir.glob("*.ready"):
            stale.unlink()


def _isolation(agent_log: Path) -> str:
    """The isolation level the agent announced at start (`berth-agent isolation: <level>: ...`)."""
    for line in agent_log.read_text(errors="replace").splitlines():
        if line.startswith("berth-agent isolation: "):
            return line.removeprefix("berth-agent isolation: ")
    return ""


def _agent_id(home: Path) -> str:
    """This home's agent id: kept across starts (its NATS identity is named after it)."""
    known = credentials.agent_ids(home)
    if known:
        return known[0]
    host = "".join(c if c.isalnum() or c == "-" else "-" for c in socket.gethostname().split(".")[0])
    return f"{host or 'agent'}-{os.urandom(3).hex()}"


def _secret_key_file(home: Path) -> Path:
    """The key secrets are encrypted with, made once per home and readable by its owner only."""
    path = home / "secret.key"
    if not path.exists():
        credentials.write_private(path, os.urandom(32).hex().encode())
    return path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, edge: Service, timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - not ready yet
            last = str(exc)
        if not edge.alive():
            raise Error(f"the edge exited during start-up:\n{edge.tail()}")
        time.sleep(0.05)
    raise Error(f"the edge did not report healthy within {timeout:.0f}s ({last})")


def run_up(home: Path, port: int, *, rate_limit: float | None = None) -> int:
    pid_file = home / "run" / "up.pid"
    if pid_file.exists():
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text())
            os.kill(pid, 0)
            raise Error(f"berth up is already running for {home} (pid {pid}); stop it first or use --home")
    platform = Platform(home, port, echo=print, rate_limit=rate_limit)
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        platform.start()
        pid_file.write_text(str(os.getpid()))
        edge_port = platform.edge_url.rsplit(":", 1)[1]
        print(f"Berth is up.\n  edge:   {platform.edge_url}")
        print(f"  apps:   http://<workspace>--<app>-<function>.localhost:{edge_port}/")
        print(f"  api:    {platform.api}  (token in {home / 'config.toml'})")
        print(f"  home:   {home}\n  logs:   {platform.logs}")
        print(f"  containers isolated: {platform.isolation or 'unknown (see logs/agent.log)'}")
        if platform.isolation.startswith("none"):
            print(
                "WARNING: containers are NOT isolated: deployed code can read this home's keys and "
                "other apps' secrets. Single-tenant development only (run as root, or allow "
                "unprivileged user namespaces, to isolate them).",
                file=sys.stderr,
            )
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping:
            dead = platform.first_dead()
            if dead is not None:
                print(f"berth: {dead.name} exited unexpectedly:\n{dead.tail()}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        return 0
    finally:
        print("Stopping Berth...", flush=True)
        platform.stop()
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
