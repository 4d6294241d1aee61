"""deploy/docker-compose.yml end to end on the real Docker engine: build the `berth` image, make the
credentials, `up`, deploy through the CLI, call the app through the edge, check the bus is closed,
kill and restart services (`docker restart` of the scheduler under 20 requests/s fails none),
`down` and `up` again (apps, secrets and tokens survive), `down -v`.

Needs a Docker engine and docker-compose; without them the test is skipped, and says so on stderr.
The base image is made once per engine (a minute or more the first time); the `berth` image is
built from this working tree under a tag of its own and removed at the end.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import BERTH, EXAMPLES, REPO, docker_client, send, wait_until
from tests.e2e.traffic import load

COMPOSE_FILE = REPO / "deploy" / "docker-compose.yml"
UP_TIMEOUT = 300.0
API_TIMEOUT = 120.0
DEPLOY_TIMEOUT = 900.0  # the builder installs the app's packages from PyPI in a fresh volume
CALL_TIMEOUT = 180.0
DOWN_TIMEOUT = 180.0
SERVICES = ("nats", "scheduler", "builder", "agent", "edge")
RESTART_LOAD = 20.0  # requests/s while the scheduler restarts, as for redeploys (issue #9)
APPS = REPO / "tests" / "e2e" / "apps"


def _compose_command() -> list[str]:
    """docker-compose v1, else the v2 plugin; [] when neither runs."""
    for candidate in (["docker-compose"], ["docker", "compose"]):
        if shutil.which(candidate[0]) is None:
            continue
        try:
            done = subprocess.run([*candidate, "version"], capture_output=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return candidate
    return []


def _skip_reason() -> str:
    if docker_client() is None:
        return "Docker engine absent (docker info failed): compose stack test skipped"
    if not _compose_command():
        return "neither docker-compose nor `docker compose` runs: compose stack test skipped"
    return ""


SKIP_REASON = _skip_reason()
if SKIP_REASON:
    print(f"\n{SKIP_REASON}", file=sys.stderr)

pytestmark = [
    pytest.mark.skipif(bool(SKIP_REASON), reason=SKIP_REASON or "-"),
    pytest.mark.xdist_group("docker"),
]


def _say(message: str) -> None:
    print(f"[compose] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _guide_login_command() -> str:
    """The `berth login` line of deploy/README.md's "Run and deploy" block."""
    guide = (REPO / "deploy" / "README.md").read_text()
    block = guide.split("## 3. Run and deploy", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    (command,) = [line for line in block.splitlines() if line.startswith("berth login ")]
    return command


def _run(argv: list[str], *, timeout: float, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def berth_image(base_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The `berth` image of deploy/Dockerfile, built the way deploy/build.sh does (wheels made on
    the host, `docker build --network none`), in a context of its own so the tree is left alone."""
    context = tmp_path_factory.mktemp("berth-image")
    shutil.copy(REPO / "deploy" / "Dockerfile", context / "Dockerfile")
    tag = f"berth-compose-test:{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    wheels = _run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(context / "wheels"), str(REPO)],
        timeout=900,
    )
    assert wheels.returncode == 0, f"pip wheel failed:\n{wheels.stderr[-3000:]}"
    _say(f"wheelhouse in {time.monotonic() - started:.1f}s")
    started = time.monotonic()
    build = _run(
        ["docker", "build", "--network", "none", "--build-arg", f"BASE={base_image}"]
        + ["-t", tag, str(context)],
        timeout=900,
    )
    assert build.returncode == 0, f"docker build failed:\n{build.stdout[-3000:]}\n{build.stderr[-3000:]}"
    _say(f"image {tag} built in {time.monotonic() - started:.1f}s")
    try:
        yield tag
    finally:
        _run(["docker", "rmi", "-f", tag], timeout=120)


class Stack:
    """One compose project of deploy/docker-compose.yml, with its own ports, credentials and homes."""

    def __init__(self, image: str, root: Path) -> None:
        self.project = f"berthtest{uuid.uuid4().hex[:10]}"
        self.agent_id = f"compose-{uuid.uuid4().hex[:8]}"
        self.credentials = root / "credentials"
        self.agent_home = root / "agent-home"
        self.cli_home = root / "cli"
        self.edge_port = _free_port()
        self.api_port = _free_port()
        self.image = image
        self.files = ["-f", str(COMPOSE_FILE)]
        # Behind a TLS-inspecting proxy the builder's uv needs the host's CA bundle; deploy/README.md
        # shows the same override for operators.
        ca = Path(os.environ.get("SSL_CERT_FILE") or "/etc/ssl/certs/ca-certificates.crt")
        if ca.is_file():
            override = root / "ca-override.yml"
            override.write_text(
                "services:\n  builder:\n    environment:\n      SSL_CERT_FILE: /etc/ssl/certs/host-ca.crt\n"
                f"    volumes:\n      - {ca.resolve()}:/etc/ssl/certs/host-ca.crt:ro\n"
            )
            self.files += ["-f", str(override)]

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BERTH_", "COMPOSE_"))}
        env.update(
            BERTH_IMAGE=self.image,
            BERTH_CREDENTIALS=str(self.credentials),
            BERTH_AGENT_ID=self.agent_id,
            BERTH_AGENT_HOME=str(self.agent_home),
            BERTH_EDGE_PORT=str(self.edge_port),
            BERTH_API_PORT=str(self.api_port),
        )
        return env

    def compose(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return _run(
            [*_compose_command(), "-p", self.project, *self.files, *args], timeout=timeout, env=self.env
        )

    def up(self) -> None:
        done = self.compose("up", "-d", timeout=UP_TIMEOUT)
        assert done.returncode == 0, f"compose up failed:\n{done.stderr[-3000:]}\n{self.logs()}"

    def down(self, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.compose("down", *extra, timeout=DOWN_TIMEOUT)

    def logs(self) -> str:
        try:
            return self.compose("logs", "--no-color", "--tail", "40", timeout=60).stdout[-8000:]
        except subprocess.TimeoutExpired:
            return "(compose logs timed out)"

    @property
    def cli_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BERTH_")}
        env["BERTH_HOME"] = str(self.cli_home)
        return env

    def berth(self, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
        return _run([BERTH, *args], timeout=timeout, env=self.cli_env, cwd=self.cli_home)

    def login(self) -> subprocess.CompletedProcess[str]:
        """deploy/README.md's `berth login` line, word for word but for this stack's ports and
        credentials directory, run in a shell as an operator would (the token on stdin)."""
        command = _guide_login_command()
        command = command.replace("127.0.0.1:7100", f"127.0.0.1:{self.api_port}")
        command = command.replace("localhost:8000", f"localhost:{self.edge_port}")
        command = command.replace("deploy/credentials/", f"{self.credentials}/")
        env = {**self.cli_env, "PATH": f"{Path(BERTH).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        self.cli_home.mkdir(parents=True, exist_ok=True)
        return _run(["bash", "-c", command], timeout=60, env=env, cwd=REPO)

    def wait_healthy(self) -> None:
        """Until every service's healthcheck passes (each reports ready once it serves)."""
        deadline = time.monotonic() + API_TIMEOUT
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            for service in SERVICES:
                inspect = ["docker", "inspect", "-f", "{{.State.Health.Status}}", self.container(service)]
                states[service] = _run(inspect, timeout=60).stdout.strip()
            if all(state == "healthy" for state in states.values()):
                return
            time.sleep(0.5)
        raise AssertionError(f"not healthy within {API_TIMEOUT:.0f}s: {states}\n{self.logs()}")

    def wait_api(self) -> None:
        self.wait_healthy()
        deadline = time.monotonic() + API_TIMEOUT
        last = ""
        while time.monotonic() < deadline:
            done = self.berth("app", "list", timeout=30)
            if done.returncode == 0:
                return
            last = done.stderr
            time.sleep(0.5)
        raise AssertionError(f"the API did not answer within {API_TIMEOUT:.0f}s: {last}\n{self.logs()}")

    def call(self, url: str) -> httpx.Response:
        """Calls through the edge; the first call boots a container, so 5xx/404 are retried briefly
        only while the edge itself is coming up after `up`."""
        deadline = time.monotonic() + CALL_TIMEOUT
        last: object = None
        with httpx.Client(timeout=CALL_TIMEOUT) as client:
            while time.monotonic() < deadline:
                try:
                    response = send(client, "GET", url)
                except httpx.TransportError as exc:  # the edge's port is not accepting yet
                    last = exc
                    time.sleep(0.3)
                    continue
                if response.status_code < 500:
                    return response
                last = f"{response.status_code} {response.text[:300]}"
                time.sleep(0.5)
        raise AssertionError(f"{url} did not answer within {CALL_TIMEOUT:.0f}s: {last}\n{self.logs()}")

    def container(self, service: str) -> str:
        done = self.compose("ps", "-q", service, timeout=60)
        assert done.returncode == 0 and done.stdout.strip(), f"no {service} container: {done.stderr}"
        return done.stdout.strip().splitlines()[0]


def _main_pid(container: str) -> int:
    """The host pid of a container's main process; 0 while it is not running."""
    done = _run(["docker", "inspect", "-f", "{{.State.Pid}}", container], timeout=60)
    return int(done.stdout.strip() or 0)


def _restarted(container: str, old_pid: int) -> bool:
    return _main_pid(container) not in (0, old_pid)


def _app_containers(owner: str) -> list[str]:
    done = _run(["docker", "ps", "-aq", "--filter", f"label=berth.owner={owner}"], timeout=60)
    return done.stdout.split()


# Run inside the stack's network: a client with no credentials, and one with an nkey the server
# was never told about, must both be refused.
_STRANGER = """
import asyncio, os, nats, nkeys
async def attempt(**kwargs):
    try:
        nc = await nats.connect("nats://nats:4222", allow_reconnect=False, max_reconnect_attempts=0,
                                connect_timeout=5, **kwargs)
    except Exception as exc:
        print("refused:", type(exc).__name__, exc)
        return
    print("ACCEPTED")
    await nc.close()
seed = nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER)
open("/tmp/stranger.nk", "wb").write(seed)
asyncio.run(attempt())
asyncio.run(attempt(nkeys_seed="/tmp/stranger.nk"))
"""


@pytest.mark.timeout(2400)
def test_compose_stack_deploys_and_keeps_its_bus_closed(berth_image: str, tmp_path: Path) -> None:
    from services.agent.runtime.docker import owner_label

    stack = Stack(berth_image, tmp_path)
    owner = owner_label(stack.agent_home)
    socket_dir = Path(f"/tmp/berth-{stack.agent_id}")
    timings: dict[str, float] = {}
    # The credentials, made the way deploy/README.md says without a venv (the image's generator, as
    # the invoking user); the host's generator, run after it, then finds everything there.
    stack.credentials.mkdir(mode=0o700)
    made = _run(
        ["docker", "run", "--rm", "-u", f"{os.getuid()}:{os.getgid()}"]
        + ["-v", f"{stack.credentials}:/out", berth_image]
        + ["python", "-m", "services.launcher.credentials", "/out", "--agent-id", stack.agent_id],
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    again = _run(
        [sys.executable, "-m", "services.launcher.credentials", str(stack.credentials)]
        + ["--agent-id", stack.agent_id],
        timeout=60,
        cwd=REPO,
    )
    changed = [line for line in again.stdout.splitlines() if line.startswith(("made", "updated"))]
    assert again.returncode == 0 and not changed, again.stdout
    stack.agent_home.mkdir()
    try:
        started = time.monotonic()
        stack.up()
        timings["up"] = time.monotonic() - started
        stack.wait_healthy()
        logged_in = stack.login()
        assert logged_in.returncode == 0, logged_in.stderr
        # The API answered and took the token (an unanswered one is saved with a warning).
        assert f"logged in to 127.0.0.1:{stack.api_port}: wrote " in logged_in.stderr, logged_in.stderr
        stack.wait_api()
        timings["up -> all healthy, API answers"] = time.monotonic() - started

        started = time.monotonic()
        deployed = stack.berth("deploy", str(EXAMPLES / "hello.py"), timeout=DEPLOY_TIMEOUT)
        assert deployed.returncode == 0, f"deploy failed:\n{deployed.stderr[-3000:]}\n{stack.logs()}"
        timings["deploy (image build included)"] = time.monotonic() - started
        urls = dict(line.split(": ", 1) for line in deployed.stdout.strip().splitlines() if ": " in line)
        assert urls["f"] == f"http://local--hello-f.localhost:{stack.edge_port}/", deployed.stdout
        started = time.monotonic()
        response = stack.call(urls["f"])
        timings["first call (cold start)"] = time.monotonic() - started
        assert response.status_code == 200 and response.json() == "Hello world!", response.text
        assert _app_containers(owner), "the app's container does not carry the agent's owner label"

        # A build step that runs in a container of the image: its scratch directory is mounted by
        # path, which only works because compose gives the builder a host directory for it.
        stepped = stack.berth("deploy", str(APPS / "compose_steps.py"), timeout=DEPLOY_TIMEOUT)
        assert stepped.returncode == 0, f"deploy failed:\n{stepped.stderr[-3000:]}\n{stack.logs()}"
        step_urls = dict(line.split(": ", 1) for line in stepped.stdout.strip().splitlines() if ": " in line)
        answer = stack.call(step_urls["marker"])
        assert answer.status_code == 200 and answer.json() == "built-in-a-step", answer.text

        # The bus: not published on the host, and closed to anyone without an admitted nkey.
        nats_id = stack.container("nats")
        ports = _run(["docker", "port", nats_id], timeout=60)
        assert ports.returncode == 0 and not ports.stdout.strip(), f"NATS is published: {ports.stdout}"
        api_ports = _run(["docker", "port", stack.container("scheduler")], timeout=60).stdout
        assert api_ports.strip() == f"7100/tcp -> 127.0.0.1:{stack.api_port}", api_ports
        probe = _run(
            ["docker", "run", "--rm", "--network", f"{stack.project}_default", berth_image]
            + ["python", "-c", _STRANGER],
            timeout=120,
        )
        assert probe.returncode == 0, probe.stderr[-3000:]
        refusals = [line for line in probe.stdout.splitlines() if line.startswith("refused:")]
        assert "ACCEPTED" not in probe.stdout, probe.stdout
        assert len(refusals) == 2 and all("Authorization Violation" in r for r in refusals), probe.stdout

        # Keys and the token reach the services as files, not environment visible in docker inspect.
        names = ("api.token", "token.key", "secret.key")
        secrets = [(stack.credentials / name).read_text().strip() for name in names]
        for service in SERVICES:
            inspect = _run(["docker", "inspect", stack.container(service)], timeout=60).stdout
            visible = [s for s in secrets if s in inspect]
            assert not visible, f"a key or token is visible in `docker inspect` of {service}"

        # Restart policies: a service killed outright comes back by itself, healthy, and the app
        # answers again (the edge keeps its id, so the scheduler hands its leases to the new one).
        for service in ("scheduler", "edge"):
            container = stack.container(service)
            pid = _main_pid(container)
            started = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            wait_until(
                functools.partial(_restarted, container, pid),
                f"docker to restart the killed {service}",
                timeout=API_TIMEOUT,
            )
            stack.wait_healthy()
            response = stack.call(urls["f"])
            assert response.status_code == 200 and response.json() == "Hello world!", response.text
            timings[f"kill -9 {service} -> healthy, app answers"] = time.monotonic() - started

        # `docker restart` of the scheduler under steady load: the edge holds leases on the warm
        # containers, the new scheduler adopts them, and requests that queue meanwhile wait for it
        # (services/edge/leases.py, SCHEDULER_GRACE) rather than fail. The app takes 16 requests
        # per container, at most 2 containers: the load must not crowd this shared host.
        steady = stack.berth("deploy", str(APPS / "steady.py"), timeout=DEPLOY_TIMEOUT)
        assert steady.returncode == 0, f"deploy failed:\n{steady.stderr[-3000:]}\n{stack.logs()}"
        steady_url = steady.stdout.strip().splitlines()[-1].split(": ", 1)[1]
        assert stack.call(steady_url).json() == "steady"
        started = time.monotonic()
        container = stack.container("scheduler")
        with load(steady_url, rate=RESTART_LOAD) as traffic:
            wait_until(lambda: traffic.count('"steady"') >= 20, "the load to run", timeout=60)
            restarted = _run(["docker", "restart", container], timeout=API_TIMEOUT)
            assert restarted.returncode == 0, restarted.stderr
            stack.wait_healthy()
            before = len(traffic.answers())
            wait_until(lambda: len(traffic.answers()) >= before + 20, "later requests", timeout=60)
        failed = traffic.failures()
        assert not failed, f"{len(failed)} of {len(traffic.results)} failed: {failed[:10]}\n{stack.logs()}"
        timings[f"docker restart scheduler under load ({len(traffic.results)} requests)"] = (
            time.monotonic() - started
        )

        # `down && up` keeps apps, secrets and tokens: they live in the nats-data volume.
        secret = f"compose-secret-{uuid.uuid4().hex[:6]}"
        made_secret = stack.berth("secret", "create", secret, "KEY=value", timeout=60)
        assert made_secret.returncode == 0, made_secret.stderr
        made_token = stack.berth("token", "create", f"compose-ci-{uuid.uuid4().hex[:6]}", timeout=60)
        assert made_token.returncode == 0, made_token.stderr
        token = made_token.stdout.strip()
        started = time.monotonic()
        downed = stack.down()
        assert downed.returncode == 0, f"compose down failed:\n{downed.stderr[-3000:]}"
        stack.up()
        stack.wait_api()
        response = stack.call(urls["f"])
        assert response.status_code == 200 and response.json() == "Hello world!", response.text
        timings["down && up -> app answers"] = time.monotonic() - started
        listed = stack.berth("app", "list", timeout=60)
        assert listed.returncode == 0 and "hello" in listed.stdout, listed.stderr
        secrets_listed = stack.berth("secret", "list", timeout=60)
        assert secrets_listed.returncode == 0 and secret in secrets_listed.stdout, secrets_listed.stdout
        with_token = _run(
            [BERTH, "app", "list"],
            timeout=60,
            env={**stack.cli_env, "BERTH_TOKEN": token},
            cwd=stack.cli_home,
        )
        assert with_token.returncode == 0 and "hello" in with_token.stdout, with_token.stderr
    finally:
        started = time.monotonic()
        done = stack.down("-v", "--remove-orphans")
        timings["down -v"] = time.monotonic() - started
        left = _app_containers(owner)
        for container in left:
            _run(["docker", "rm", "-f", container], timeout=60)
        shutil.rmtree(socket_dir, ignore_errors=True)
        for what, seconds in timings.items():
            _say(f"{what}: {seconds:.1f}s")
    assert done.returncode == 0, f"compose down -v failed:\n{done.stderr[-3000:]}"
    assert not left, f"app containers outlived compose down: {left}"
