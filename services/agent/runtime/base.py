"""The contract between the agent and a container runtime.

A runtime says what it guarantees once, as `Capabilities` (how containers are isolated, whether a
web_server gets its own network), and the agent reads that instead of probing for attributes.
`ProcessGroupContainer` is the container of the process runtime, whichever way it was started
(forked by a zygote, or a fresh interpreter).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from berth.v1 import bus_pb2, spec_pb2

# Environment a container inherits from the agent; everything else is set explicitly, so user code
# never sees the platform's own settings (bus address, tokens, the secret key, $BERTH_HOME).
INHERITED_ENV = ("PATH", "LANG", "LC_ALL", "TZ")

# The agent's OpenTelemetry settings a container gets, so the runner's `runner.handle` spans reach
# the same collector, sampled and propagated the same way, and join the request's trace. A short
# allow-list, never every OTEL_*: tenant code reads its own environment, and the agent's may hold
# the operator's tracing credentials (OTEL_EXPORTER_OTLP_*HEADERS, *_CLIENT_KEY, *_CERTIFICATE
# paths) or describe the operator's hosts and accounts (OTEL_RESOURCE_ATTRIBUTES). The runner
# names itself (service.name berth-runner), so OTEL_SERVICE_NAME is not needed either. A collector
# that wants credentials therefore gets no runner spans: point the agent at a local relay without.
TRACING_ENV = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_TRACES_EXPORTER",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PROPAGATORS",  # must match the services', or the runner cannot read the traceparent
    "OTEL_BSP_SCHEDULE_DELAY",
    "OTEL_BSP_EXPORT_TIMEOUT",
    "OTEL_BSP_MAX_QUEUE_SIZE",
    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "OTEL_SDK_DISABLED",
)
_TRACING_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def tracing_env(environ: Mapping[str, str]) -> dict[str, str]:
    """The TRACING_ENV settings of `environ`, less any endpoint URL that carries credentials itself
    (`user:password@`, or a query such as `?api-key=`): without an endpoint the runner does not
    trace, which beats handing tenants the key."""
    env = {key: environ[key] for key in TRACING_ENV if key in environ}
    for key in _TRACING_ENDPOINTS:
        if key in env and _carries_credentials(env[key]):
            del env[key]
    return env


def _carries_credentials(url: str) -> bool:
    try:
        parts = urlsplit(url)
        return bool(parts.username or parts.password or parts.query)
    except ValueError:  # not a URL the exporter could use either
        return True


@dataclass(frozen=True)
class LaunchSpec:
    container_id: str
    python: str
    env: dict[str, str]
    cwd: Path
    # Directories the container sees: the code bundle and the runner's socket live here.
    state_dir: Path
    code_dir: Path
    # web_server containers listen on ports of their own choosing; each gets a private network
    # namespace so several can listen on the same port on one host.
    isolate_network: bool = False
    # Docker runtime: the image to run (BuiltImage.docker_tag); "" for the process runtime.
    image_tag: str = ""
    # The agent's end of the container's unix socket (also in env as BERTH_SOCKET); "" if none.
    socket_path: str = ""


def launch_spec(
    order: bus_pb2.BootOrder, *, code_dir: Path, state_dir: Path, boot_file: Path, socket_path: Path
) -> LaunchSpec:
    """The container of `order` as the agent launches it, with its whole environment: what the
    user set (the image's env, then the secrets the function names), then what the runner needs.
    Host paths throughout; the Docker runtime maps them to the container's (docker.container_env)."""
    image = order.image
    workdir = Path(image.workdir) if image.workdir else code_dir
    env = {k: os.environ[k] for k in INHERITED_ENV if k in os.environ}
    env.update(image.env)
    env.update(order.env)
    env.update(
        {
            "HOME": str(state_dir),
            "PYTHONUNBUFFERED": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "BERTH_BOOT": str(boot_file),
            "BERTH_SOCKET": str(socket_path),
            "BERTH_CODE_DIR": str(code_dir),
            "BERTH_CONTAINER_ID": order.container_id,
            "PATH": f"{Path(image.python).parent}:{env.get('PATH', '/usr/bin:/bin')}",
        }
    )
    if image.python_path:
        env["PYTHONPATH"] = ":".join(image.python_path)
    for key, value in tracing_env(os.environ).items():
        env.setdefault(key, value)  # the image's env and secrets may set their own
    return LaunchSpec(
        container_id=order.container_id,
        python=image.python,
        env=env,
        cwd=workdir if workdir.is_dir() else code_dir,
        state_dir=state_dir,
        code_dir=code_dir,
        isolate_network=order.function.web.kind == spec_pb2.WEB_KIND_WEB_SERVER,
        image_tag=image.docker_tag,
        socket_path=str(socket_path),
    )


class Isolation(enum.Enum):
    """How a runtime keeps containers apart from the host and from each other (strongest last)."""

    # A process group under the agent's own uid: any container can read the platform's files and
    # the other containers' secrets. Single-tenant development only.
    NONE = "none"
    # Own mount, pid and IPC namespaces inside a user namespace, under the agent's uid: containers
    # see only their own files and processes; everything else is read-only to them.
    USER_NAMESPACE = "user-namespace"
    # Own uid and gid, own mount, pid and IPC namespaces (the agent runs as root).
    NAMESPACES = "namespaces"
    # A container of a container engine (Docker).
    CONTAINER = "container"


@dataclass(frozen=True)
class Capabilities:
    """What a runtime guarantees about the containers it starts."""

    isolation: Isolation
    # web_server containers get a network namespace of their own, so several may use one port.
    network_namespaces: bool
    # Containers that are not web_servers can reach the outside network.
    outbound_network: bool = True
    # Memory and CPU limits are enforced per container.
    resource_limits: bool = False
    # Process runtime on the host's network: containers' connections to this host's own addresses,
    # link-local (metadata) addresses and Docker bridges are refused (services/agent/runtime/egress.py).
    egress_filtered: bool = False

    @property
    def isolated(self) -> bool:
        return self.isolation is not Isolation.NONE

    def describe(self) -> str:
        """One line for the agent's start-up output and logs."""
        if self.isolation is Isolation.NONE:
            return (
                "containers are NOT isolated: they run as the agent's user and can read the "
                "platform's secrets and each other's (single-tenant development only)"
            )
        how = {
            Isolation.USER_NAMESPACE: "a user namespace each (the agent's uid), with mount, pid and IPC "
            "namespaces",
            Isolation.NAMESPACES: "a uid of their own and mount, pid and IPC namespaces",
            Isolation.CONTAINER: "a container each",
        }[self.isolation]
        if self.isolation is Isolation.CONTAINER:  # the Docker runtime reports its firewall itself
            return f"containers are isolated: {how}"
        if self.egress_filtered:
            network = "their connections to this host's own and link-local (metadata) addresses are refused"
        else:
            network = (
                "they share the host's network UNFILTERED: this host's own services and link-local "
                "(metadata) addresses are reachable"
            )
        return f"containers are isolated: {how}; {network}"


class Container(Protocol):
    """A started container. stdout/stderr are line streams the agent forwards to the logs."""

    container_id: str
    stdout: asyncio.StreamReader
    stderr: asyncio.StreamReader
    # Why it ended when the runtime knows more than the exit code, as a short phrase without ": "
    # (the edge shows clients only the text before one): "out of memory, limit 128 MiB"; "" otherwise.
    # Read after wait().
    exit_reason: str

    async def wait(self) -> int:
        """The exit code of the container's main process, once it has ended."""
        ...

    async def terminate(self, grace: float) -> int:
        """Asks the container to end, kills it after `grace` seconds; returns its exit code.

        When it returns nothing of the container runs any more, even if the main process had
        already ended before the call: whatever it left behind (a web_server's processes) is
        killed. Calling it on a container that ended is therefore how the agent cleans up."""
        ...


class Runtime(Protocol):
    name: str
    capabilities: Capabilities

    async def launch(self, spec: LaunchSpec) -> Container: ...

    async def close(self) -> None:
        """Releases what the runtime holds (zygotes ...); the agent stops the containers first."""
        ...


class ProcessGroupContainer:
    """A container of the process runtime: a session and process group of its own, led by `pid`
    (with isolation, the keeper of its pid namespace: killing it ends every process inside).

    `exited` resolves with the leader's exit code (negative: the signal that ended it)."""

    def __init__(
        self,
        container_id: str,
        pid: int,
        exited: asyncio.Future[int],
        stdout: asyncio.StreamReader,
        stderr: asyncio.StreamReader,
        *,
        on_end: Callable[[], None] | None = None,
    ) -> None:
        self.container_id = container_id
        self.exit_reason = ""
        self.pid = pid
        self._exited = exited
        self.stdout = stdout
        self.stderr = stderr
        self._on_end = on_end

    async def wait(self) -> int:
        return await asyncio.shield(self._exited)

    async def terminate(self, grace: float) -> int:
        # The whole process group: servers the user started (web_server) must end with it.
        if not self._exited.done():
            self._signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(self._exited), grace)
            except TimeoutError:
                pass
        # Whatever is left of the group, children that outlived the runner included.
        self._signal(signal.SIGKILL)
        code = await asyncio.shield(self._exited)
        self._ended()
        return code

    def _ended(self) -> None:
        if self._on_end is not None:
            on_end, self._on_end = self._on_end, None
            on_end()

    def _signal(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
