"""run_commands and apt_install on the Docker runtime: a container of the image so far, committed.

The container is the build sandbox for these steps: it holds no platform credentials (nothing of
the host is mounted but a scratch directory of this step's own), and it has no network at all
(`network_mode=none`): its only way out is the builder's egress proxy (egress_proxy.py), reached
through a Unix socket in that scratch directory. A small relay (RELAY, standard library only, run
by the image's python3 with `-I -S`) listens on the container's own loopback and forwards each
connection to the socket, so `http_proxy=http://<token>:x@127.0.0.1:3128` works for apt, pip,
curl and anything else that honours proxy settings, and the proxy admits what the index policy
admits (PyPI and Debian's mirrors by default, see pip_args.IndexPolicy). Nothing else is
reachable, proxy settings honoured or not.

The scratch directory is a bind mount, so it is not part of the committed image; the proxy's
credentials are in a file there, not in the container's environment, for the same reason. The
commit restores the image's CMD (the wrapper's command line would replace it otherwise).

The Docker engine must see the builder's temporary directory at the same path (the engine and
the builder share a host, as with `berth up`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shlex
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from berth.v1 import spec_pb2
from services.builder.errors import BuildFailed
from services.builder.sandbox import Sandbox

LineSink = Callable[[str], None]

MOUNT = "/run/berth-build"
# The step's scratch directory is bind-mounted into its container by path, so the engine must see it
# at the path the builder wrote it. When the builder itself runs in a container (deploy/), its
# /tmp is not the engine's: compose points this at a host directory mounted at the same path.
SCRATCH_DIR_ENV = "BERTH_BUILD_STEP_DIR"
RELAY_PORT = 3128
_TAIL_LINES = 40
APT_CLEAN = "rm -rf /var/lib/apt/lists/*"
APT_OPTIONS = (
    # The egress proxy forwards one plain-HTTP request per connection; pipelined ones would be lost.
    "-o",
    "Acquire::http::Pipeline-Depth=0",
    "-o",
    "Acquire::Retries=3",
)

RELAY = r"""
import os, socket, sys, threading

SOCK, PORT = sys.argv[1], int(sys.argv[2])
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", PORT))
server.listen(64)
if os.fork():
    os._exit(0)  # listening: the step's commands may start
os.setsid()


def pump(source, sink):
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    try:
        sink.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(conn):
    upstream = socket.socket(socket.AF_UNIX)
    try:
        upstream.connect(SOCK)
    except OSError:
        conn.close()
        return
    back = threading.Thread(target=pump, args=(upstream, conn), daemon=True)
    back.start()
    pump(conn, upstream)
    back.join()
    conn.close()
    upstream.close()


while True:
    conn, _ = server.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


def step_script(step: spec_pb2.ImageStep) -> list[str]:
    """The step's shell commands, each run with `sh -c` in order until one fails."""
    kind = step.WhichOneof("step")
    if kind == "run_commands":
        return list(step.run_commands.commands)
    if kind == "apt_install":
        options = " ".join(APT_OPTIONS)
        packages = " ".join(shlex.quote(p) for p in step.apt_install.packages)
        install = f"apt-get {options} install -y -q --no-install-recommends {packages}"
        return [f"apt-get {options} update -q", f"DEBIAN_FRONTEND=noninteractive {install}", APT_CLEAN]
    raise ValueError(f"{kind} is not a container step")


def wrapper(commands: list[str]) -> str:
    """The container's script: the relay, the environment file, then each command."""
    lines = [
        f"python3 -I -S {MOUNT}/relay.py {MOUNT}/proxy.sock {RELAY_PORT} || exit 125",
        f". {MOUNT}/env",
    ]
    lines += [f"sh -c {shlex.quote(command)} || exit $?" for command in commands]
    return "\n".join(lines) + "\n"


def env_file(image_env: Mapping[str, str], proxy_url: str) -> str:
    """`export` lines: the image's env so far, then the proxy (which wins over an image's own)."""
    env = dict(image_env)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        env[name] = proxy_url
    env["no_proxy"] = env["NO_PROXY"] = ""
    return "".join(f"export {key}={shlex.quote(value)}\n" for key, value in env.items())


async def run(
    client: Any,
    sandbox: Sandbox,
    *,
    image: str,
    step: spec_pb2.ImageStep,
    label: str,
    cwd: str,
    image_env: Mapping[str, str],
    commit_to: tuple[str, str],
    on_line: LineSink,
) -> None:
    """Runs the step in a container of `image` and commits it as `repository:tag` (commit_to)."""
    proxy = await sandbox.egress_proxy(await sandbox.mode())
    token = proxy.open_session(on_line)
    scratch = Path(tempfile.mkdtemp(prefix="berth-step-", dir=_scratch_parent()))
    server = None
    try:
        proxy_url = f"http://{token}:x@127.0.0.1:{RELAY_PORT}"
        await asyncio.to_thread(_write_scratch, scratch, step, image_env, proxy_url)
        server = await proxy.serve_unix(str(scratch / "proxy.sock"))
        await _run_and_commit(client, image, scratch, cwd, label, commit_to, on_line)
    finally:
        proxy.close_session(token)
        if server is not None:
            server.close()
        await asyncio.to_thread(shutil.rmtree, scratch, True)


def _scratch_parent() -> str | None:
    parent = os.environ.get(SCRATCH_DIR_ENV) or None
    if parent is not None:
        os.makedirs(parent, mode=0o711, exist_ok=True)
    return parent


def _write_scratch(
    scratch: Path, step: spec_pb2.ImageStep, image_env: Mapping[str, str], proxy_url: str
) -> None:
    scratch.chmod(0o755)
    (scratch / "relay.py").write_text(RELAY)
    (scratch / "env").write_text(env_file(image_env, proxy_url))
    (scratch / "run.sh").write_text(wrapper(step_script(step)))


async def _run_and_commit(
    client: Any,
    image: str,
    scratch: Path,
    cwd: str,
    label: str,
    commit_to: tuple[str, str],
    on_line: LineSink,
) -> None:
    loop = asyncio.get_running_loop()
    abandoned = threading.Event()
    tail: list[str] = []

    def emit(line: str) -> None:
        tail.append(line)
        del tail[:-_TAIL_LINES]
        loop.call_soon_threadsafe(on_line, line)

    def work() -> None:
        import docker.errors

        cmd = (client.images.get(image).attrs.get("Config") or {}).get("Cmd") or ["python3"]
        container = client.containers.create(
            image,
            command=["/bin/sh", f"{MOUNT}/run.sh"],
            entrypoint=[],
            network_mode="none",
            volumes={str(scratch): {"bind": MOUNT, "mode": "rw"}},
            working_dir=cwd,
            user="0",
            labels={"berth.build-step": "1"},
            security_opt=["no-new-privileges"],
        )
        try:
            container.start()
            for chunk in container.logs(stream=True, follow=True):
                if abandoned.is_set():
                    return
                for line in chunk.decode(errors="replace").splitlines():
                    if line.strip():
                        emit(line)
            status = container.wait().get("StatusCode", 1)
            if status != 0:
                raise BuildFailed(f"image build failed: {label} exited with {status}\n" + "\n".join(tail))
            repository, tag = commit_to
            container.commit(repository=repository, tag=tag, changes=[f"CMD {json.dumps(cmd)}"])
        finally:
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True)

    try:
        await asyncio.to_thread(work)
    except asyncio.CancelledError:
        abandoned.set()
        raise
