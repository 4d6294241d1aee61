"""`berth up`: the whole platform on one machine, each service its own OS process.

Start order follows dependencies (NATS, builder, scheduler, agent, edge); each service reports
readiness through a ready file, so nothing here sleeps on a guess. Ctrl-C stops them in reverse.

Once up, a service that dies is started again by the supervisor (supervisor.py) at the same
address: NATS on the port it first picked (with its JetStream store dir), the builder and the
scheduler's API on theirs, the edge on a listening socket this process holds and lends to each edge
process, so clients queue in the kernel's backlog rather than being refused while the edge restarts.
The edge keeps one id for the whole run, so the scheduler knows a restarted edge for the same one
and takes back the leases its predecessor held. Each service's pid is in run/<service>.pid.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

from berth._errors import Error
from berth.cli.config import ClientConfig, load, save
from berth.cli.config import home as default_home
from services.common import credentials
from services.launcher import nats
from services.launcher.supervisor import POLL, Child, Supervisor, setup_logging

READY_TIMEOUT = 60.0
EDGE_BACKLOG = 4096  # connections that may queue while no edge process accepts (a restart)


class Platform:
    """The running services of one `berth up`."""

    def __init__(
        self,
        home: Path,
        port: int,
        *,
        echo: Callable[[str], None],
        rate_limit: float | None = None,
        max_parameter_sets: int | None = None,
        redirect_after: float | None = None,
        agents: int | None = None,
        container_calls: str | None = None,
    ) -> None:
        self.home = home
        # Which apps a container may call (edge --container-calls); None: BERTH_CONTAINER_CALLS or own-app.
        self.container_calls = container_calls
        self.port = port
        self.rate_limit = rate_limit  # requests/s per workspace at the edge; None: BERTH_RATE_LIMIT or off
        # Live pools per parametrized function (scheduler); None: BERTH_MAX_PARAMETER_SETS or its default.
        self.max_parameter_sets = max_parameter_sets
        # Seconds before the edge answers a request still running 303; None: BERTH_REDIRECT_AFTER or 150.
        self.redirect_after = redirect_after
        # Agents to run on this machine, each with its own id, NATS identity and state dir (as if
        # on hosts of their own); None: BERTH_AGENTS or 1.
        self.agents = agents if agents is not None else _env_agents()
        if self.agents < 1:
            raise Error("--agents must be at least 1")
        self.echo = echo
        self.supervisor = Supervisor()
        self.run_dir = home / "run"
        self.logs = home / "logs"
        self.edge_url = ""
        self.api = ""
        self.isolation = ""
        self._edge_socket: socket.socket | None = None

    @property
    def services(self) -> list[Child]:
        return self.supervisor.children

    def _ready_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.ready"

    def _wait_ready(self, service: Child, path: Path, timeout: float = READY_TIMEOUT) -> str:
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
        for stale in [*self.run_dir.glob("*.ready"), *self.run_dir.glob("*.pid")]:
            stale.unlink()
        # The edge's port first: a taken one is then one line at once, before anything starts.
        edge_host = os.environ.get("BERTH_EDGE_HOST") or "127.0.0.1"
        self._edge_socket = _listen(edge_host, self.port)
        agent_ids = _agent_ids(self.home, self.agents)
        nats_url = self._start_nats(agent_ids)
        nats.provision_state(nats_url, self.home)
        token_file, token_key_file = self._token_files()
        port = int(self._edge_socket.getsockname()[1])
        py = sys.executable

        def env(identity: str) -> dict[str, str]:
            seed = credentials.seed_file(self.home, identity)
            return {
                "BERTH_NATS_URL": nats_url,
                "BERTH_HOME": str(self.home),
                "BERTH_NATS_SEED_FILE": str(seed),
            }

        tokens = {"BERTH_TOKEN_KEY_FILE": str(token_key_file)}
        # Restarts listen where the first start did: the scheduler and config.toml know only that.
        listen: dict[str, list[str]] = {"builder": [], "scheduler": []}
        builder_argv = [py, "-m", "services.builder", "--ready-file", str(self._ready_file("builder"))]
        builder = self._spawn(
            "builder",
            lambda: [*builder_argv, *listen["builder"]],
            {**env(credentials.BUILDER), **tokens},
        )
        builder_addr = self._wait_ready(builder, self._ready_file("builder"))
        listen["builder"] = ["--listen", builder_addr]
        # A key the operator set in BERTH_SECRET_KEY reaches the scheduler through the environment it
        # inherits; otherwise it reads this home's key file (nothing secret in /proc/<pid>/environ).
        secret_key_file = "" if os.environ.get("BERTH_SECRET_KEY") else str(_secret_key_file(self.home))
        scheduler = self._spawn(
            "scheduler",
            lambda: [
                py,
                "-m",
                "services.scheduler",
                "--builder",
                builder_addr,
                "--edge-port",
                str(port),
                "--ready-file",
                str(self._ready_file("scheduler")),
                *listen["scheduler"],
                *_flag("--max-parameter-sets", self.max_parameter_sets),
            ],
            {
                **env(credentials.SCHEDULER),
                **tokens,
                "BERTH_TOKEN_FILE": str(token_file),
                "BERTH_SECRET_KEY_FILE": secret_key_file,
            },
        )
        self.api = self._wait_ready(scheduler, self._ready_file("scheduler"))
        listen["scheduler"] = ["--listen", self.api]
        # The first agent is "agent" (logs/agent.log, run/agent.pid), the others agent-2, agent-3...
        agents = []
        for n, agent_id in enumerate(agent_ids, start=1):
            name = "agent" if n == 1 else f"agent-{n}"
            agent_argv = [py, "-m", "services.agent", "--agent-id", agent_id]
            agent_argv += ["--ready-file", str(self._ready_file(name))]
            agents.append(self._spawn(name, _fixed(agent_argv), env(credentials.agent_identity(agent_id))))
        for agent in agents:
            self._wait_ready(agent, self._ready_file(agent.name))
        self.isolation = _isolation(agents[0].log_path)
        fd = self._edge_socket.fileno()
        # One id for the whole run: a restarted edge's hello makes the scheduler void the leases
        # its predecessor held, instead of leaving them to a dead edge until they time out.
        edge_id = f"edge-{os.urandom(4).hex()}"
        edge_argv = [py, "-m", "services.edge", "--port", str(port), "--listen-fd", str(fd)]
        edge_argv += ["--edge-id", edge_id, "--ready-file", str(self._ready_file("edge"))]
        # The dashboard calls the API with each user's token; a self-signed API certificate is its own CA.
        ca_file = os.environ.get("BERTH_CA_FILE") or os.environ.get("BERTH_TLS_CERT", "")
        edge_argv += ["--api", self.api, *(["--api-ca-file", ca_file] if ca_file else [])]
        edge_argv += [] if self.rate_limit is None else ["--rate-limit", f"{self.rate_limit:g}"]
        edge_argv += [] if self.redirect_after is None else ["--redirect-after", f"{self.redirect_after:g}"]
        edge_argv += [] if self.container_calls is None else ["--container-calls", self.container_calls]
        edge = self._spawn("edge", lambda: edge_argv, env(credentials.EDGE), pass_fds=(fd,))
        self._wait_ready(edge, self._ready_file("edge"))
        self.edge_url = f"http://localhost:{port}"
        _wait_healthy(f"http://127.0.0.1:{port}/healthz", edge)
        token = token_file.read_text().strip()
        # (ca_file: an operator's CA comes in BERTH_CA_FILE, as for the edge above.)
        save(ClientConfig(server=self.api, token=token, edge_url=self.edge_url, ca_file=ca_file), self.home)

    def _spawn(
        self,
        name: str,
        argv: Callable[[], list[str]],
        env: dict[str, str],
        *,
        pass_fds: tuple[int, ...] = (),
        probe: Callable[[], bool] | None = None,
    ) -> Child:
        child = Child(
            name,
            argv,
            self.logs / f"{name}.log",
            env,
            pid_file=self.run_dir / f"{name}.pid",
            ready_file=None if probe else self._ready_file(name),
            probe=probe,
            pass_fds=pass_fds,
        )
        return self.supervisor.add(child)

    def _start_nats(self, agent_ids: list[str]) -> str:
        log_path = self.logs / "nats.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text("")
        config = nats.write_config(self.home, agent_ids)
        # The first start lets the server pick a port; a restart must take the same one, since
        # every service reconnects to the URL it was given (and keeps the JetStream store dir).
        port = [-1]
        service = self._spawn(
            "nats",
            lambda: nats.argv(config, self.home, log_path, port=port[0]),
            {},
            probe=lambda: _accepts(port[0]),
        )
        url = nats.wait_listening(log_path, service.alive)
        port[0] = int(url.rsplit(":", 1)[1])
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

    def first_dead(self) -> Child | None:
        return next((s for s in self.services if not s.alive()), None)

    def stop(self) -> None:
        self.supervisor.stop()
        if self._edge_socket is not None:
            self._edge_socket.close()
        for stale in [*self.run_dir.glob("*.ready"), *self.run_dir.glob("*.pid")]:
            if stale.name != "up.pid":
                stale.unlink()


def _isolation(agent_log: Path) -> str:
    """The isolation level the agent announced at start (`berth-agent isolation: <level>: ...`)."""
    for line in agent_log.read_text(errors="replace").splitlines():
        if line.startswith("berth-agent isolation: "):
            return line.removeprefix("berth-agent isolation: ")
    return ""


def _agent_ids(home: Path, count: int) -> list[str]:
    """This home's `count` agent ids: kept across starts (each NATS identity is named after its
    agent), new ones made for agents the home has not had yet."""
    ids = credentials.agent_ids(home)[:count]
    host = "".join(c if c.isalnum() or c == "-" else "-" for c in socket.gethostname().split(".")[0])
    while len(ids) < count:
        ids.append(f"{host or 'agent'}-{os.urandom(3).hex()}")
    return ids


def _env_agents() -> int:
    raw = os.environ.get("BERTH_AGENTS", "")
    try:
        return int(raw) if raw else 1
    except ValueError:
        raise Error(f"BERTH_AGENTS={raw!r}: expected a number of agents") from None


def _fixed(argv: list[str]) -> Callable[[], list[str]]:
    return lambda: argv


def _secret_key_file(home: Path) -> Path:
    """The key secrets are encrypted with, made once per home and readable by its owner only."""
    path = home / "secret.key"
    if not path.exists():
        credentials.write_private(path, os.urandom(32).hex().encode())
    return path


def _listen(host: str, port: int) -> socket.socket:
    """The edge's listening socket, held here for the whole run and inherited by each edge process."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise Error(
                f"port {port} on {host} is already in use (another `berth up`, or another server): "
                "stop it, or pick another port with --port"
            ) from None
        raise Error(f"cannot listen on {host}:{port} for the edge: {exc.strerror}") from None
    sock.listen(EDGE_BACKLOG)
    sock.set_inheritable(True)
    return sock


def _accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port` (the restarted nats-server)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _wait_healthy(url: str, edge: Child, timeout: float = READY_TIMEOUT) -> None:
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


def _flag(name: str, value: int | None) -> list[str]:
    """`name value`, or nothing when unset (the service then reads its environment variable)."""
    return [] if value is None else [name, str(value)]


def run_up(
    home: Path,
    port: int,
    *,
    rate_limit: float | None = None,
    max_parameter_sets: int | None = None,
    redirect_after: float | None = None,
    agents: int | None = None,
    container_calls: str | None = None,
) -> int:
    """Starts the platform and supervises it until Ctrl-C/SIGTERM: a service that dies is started
    again (supervisor.py), so this returns only when asked to stop (0), or 1 if start-up failed."""
    pid_file = home / "run" / "up.pid"
    if pid_file.exists():
        with contextlib.suppress(ValueError, OSError):
            pid = int(pid_file.read_text())
            os.kill(pid, 0)
            raise Error(f"berth up is already running for {home} (pid {pid}); stop it first or use --home")
    platform = Platform(
        home,
        port,
        echo=print,
        rate_limit=rate_limit,
        max_parameter_sets=max_parameter_sets,
        redirect_after=redirect_after,
        agents=agents,
        container_calls=container_calls,
    )
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    setup_logging()
    started = False
    try:
        platform.start()
        started = True
        pid_file.write_text(str(os.getpid()))
        edge_port = platform.edge_url.rsplit(":", 1)[1]
        print(f"Berth is up.\n  edge:   {platform.edge_url}")
        print(f"  apps:   http://<workspace>--<app>-<function>.localhost:{edge_port}/")
        print(f"  api:    {platform.api}  (token in {home / 'config.toml'})")
        print(f"  home:   {home}\n  logs:   {platform.logs}")
        if home != default_home().expanduser().resolve():
            # The CLI finds the API through the home's config.toml: other shells must be told.
            print(f"  in other terminals, before any berth command: export BERTH_HOME={home}")
        if platform.agents > 1:
            print(f"  agents: {platform.agents} (logs/agent.log, logs/agent-2.log, ...)")
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
            platform.supervisor.poll()
            time.sleep(POLL)
        return 0
    finally:
        if started:  # a start that failed says why in one line; nothing to announce
            print("Stopping Berth...", flush=True)
        platform.stop()
        with contextlib.suppress(FileNotFoundError):
            pid_file.unlink()
