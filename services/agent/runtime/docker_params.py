"""What a Docker-runtime container is started with: its limits, environment, host directories
(its *slot*) and the engine's parameters. Pure but for the slot's files; docker.py starts them.

Every container gets a slot: host directories of its own, bind-mounted by host path (code and
state under the agent's home, run beside the agent's sockets: an agent in a container, with the
host's Docker socket, has both at the same paths as the host):

    /berth/code              a hard-linked copy of the code bundle (read-only)
    /berth/state             the container's state dir: boot order, HOME (writable)
    /berth/run               holds runner.sock, a hard link to the agent's socket for the container
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.v1 import bus_pb2, spec_pb2
from services.agent.runtime.base import LaunchSpec

CODE = "/berth/code"
STATE = "/berth/state"
RUN = "/berth/run"
SOCKET = f"{RUN}/runner.sock"
# What a function gets when it does not say (`memory=` in MiB, `cpu=` in cores).
DEFAULT_MEMORY_MIB = 1024
DEFAULT_CPU = 1.0
PIDS_LIMIT = 512
# The container's user when the agent runs as root: nobody/nogroup.
APP_UID = 65534
# Beside the agent's sockets: the slots' run directories (hard links need one file system).
SLOTS_RUN_DIR = "docker-slots"
# The agent's environment that means nothing inside a container: the image sets its own PATH.
_HOST_ONLY = ("PATH", "TMPDIR")


def app_user() -> tuple[int, int]:
    """The uid and gid containers run as: never root."""
    if os.geteuid() == 0:
        return APP_UID, APP_UID
    return os.getuid(), os.getgid()


@dataclass(frozen=True)
class Limits:
    memory_mib: int = DEFAULT_MEMORY_MIB
    cpu: float = DEFAULT_CPU
    pids: int = PIDS_LIMIT

    @classmethod
    def of(cls, scaling: spec_pb2.ScalingSpec) -> Limits:
        """From a ScalingSpec: its `memory_mib` and `cpu`, or the defaults where they are 0."""
        return cls(
            memory_mib=int(scaling.memory_mib) or DEFAULT_MEMORY_MIB, cpu=float(scaling.cpu) or DEFAULT_CPU
        )


def limits_of(spec: LaunchSpec) -> Limits:
    """The function's limits, read from the boot order the agent wrote for the container."""
    boot = spec.env.get("BERTH_BOOT", str(spec.state_dir / "boot.pb"))
    order = bus_pb2.BootOrder.FromString(Path(boot).read_bytes())
    return Limits.of(order.function.scaling)


def container_env(spec: LaunchSpec) -> dict[str, str]:
    """spec.env with the agent's paths replaced by where the container sees them."""
    env = {k: v for k, v in spec.env.items() if k not in _HOST_ONLY}
    boot = Path(spec.env.get("BERTH_BOOT", str(spec.state_dir / "boot.pb")))
    env.update(
        {
            "BERTH_SOCKET": SOCKET,
            "BERTH_CODE_DIR": CODE,
            "BERTH_BOOT": f"{STATE}/{boot.name}",
            "HOME": STATE,
        }
    )
    return env


@dataclass(frozen=True)
class Slot:
    """The host directories one container mounts. `root` (code and state) lives under the agent's
    home; `run` beside the agent's sockets, so the container's socket can be hard-linked into it."""

    root: Path
    run: Path

    @property
    def code(self) -> Path:
        return self.root / "code"

    @property
    def state(self) -> Path:
        return self.root / "state"

    @classmethod
    def make(cls, slots: Path, sockets: Path, uid: int, gid: int) -> Slot:
        name = uuid.uuid4().hex[:16]
        slot = cls(root=slots / name, run=sockets / SLOTS_RUN_DIR / name)
        _private(slots)
        _private(sockets / SLOTS_RUN_DIR)
        _private(slot.root)
        slot.code.mkdir(mode=0o755)
        os.chmod(slot.code, 0o755)  # read by the container's user; written only by the agent
        for path in (slot.state, slot.run):
            path.mkdir(mode=0o700)
            _own(path, uid, gid)
        return slot

    def binds(self) -> dict[str, dict[str, str]]:
        return {
            str(self.code): {"bind": CODE, "mode": "ro"},
            str(self.state): {"bind": STATE, "mode": "rw"},
            str(self.run): {"bind": RUN, "mode": "rw"},
        }

    def fill(self, spec: LaunchSpec, uid: int, gid: int) -> None:
        """Gives the slot the container's code, boot order and socket."""
        _link_tree(spec.code_dir, self.code)
        boot = Path(spec.env.get("BERTH_BOOT", str(spec.state_dir / "boot.pb")))
        copy = self.state / boot.name
        shutil.copyfile(boot, copy)
        os.chmod(copy, 0o600)
        _own(copy, uid, gid)
        socket = Path(socket_of(spec))
        os.link(socket, self.run / "runner.sock")
        _own(socket, uid, gid)  # connecting needs write permission on the socket itself

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        shutil.rmtree(self.run, ignore_errors=True)


def _private(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def _own(path: Path, uid: int, gid: int) -> None:
    if (uid, gid) != (os.getuid(), os.getgid()):
        os.chown(path, uid, gid, follow_symlinks=False)


def _link_tree(source: Path, target: Path) -> None:
    """Hard links of every file under `source` in `target` (copies across file systems), readable
    by anyone who can reach `target`: the bundle cache's own modes are the agent's business."""
    for directory, dirs, files in os.walk(source):
        here = target / Path(directory).relative_to(source)
        for name in dirs:
            (here / name).mkdir(mode=0o755)
            os.chmod(here / name, 0o755)
        for name in files:
            origin, link = Path(directory, name), here / name
            if origin.is_symlink():
                continue
            try:
                os.link(origin, link)
            except OSError:
                shutil.copyfile(origin, link)
            if link.stat().st_mode & 0o444 != 0o444:
                os.chmod(link, 0o644)


def run_params(
    *,
    image: str,
    command: list[str],
    env: dict[str, str],
    name: str,
    labels: dict[str, str],
    slot: Slot,
    limits: Limits,
    network: str,
    user: tuple[int, int],
) -> dict[str, Any]:
    """Keyword arguments of the engine's `create_container`; "host_config" holds those of
    `create_host_config`."""
    memory = f"{limits.memory_mib}m"
    return {
        "image": image,
        "command": command,
        "name": name,
        "environment": env,
        "labels": labels,
        "user": f"{user[0]}:{user[1]}",
        "detach": True,
        "stdin_open": False,
        "host_config": {
            "binds": slot.binds(),
            "init": True,  # reaps the processes a web_server starts and forwards signals to the runner
            "network_mode": network,
            "read_only": True,
            "tmpfs": {"/tmp": f"rw,nosuid,nodev,size={memory}"},  # counted against the memory limit
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges"],
            "ipc_mode": "private",
            "sysctls": {"net.ipv6.conf.all.disable_ipv6": "1"},
            "pids_limit": limits.pids,
            "mem_limit": memory,
            "memswap_limit": memory,  # no swap: over the limit is out of memory
            "nano_cpus": int(limits.cpu * 1e9),
        },
    }


def socket_of(spec: LaunchSpec) -> str:
    """The agent's end of the container's socket, on the host."""
    return spec.socket_path or spec.env.get("BERTH_SOCKET", "")


def command_of(spec: LaunchSpec) -> list[str]:
    if not spec.image_tag:
        raise RuntimeError(
            "the image has no Docker tag: it was built for the process runtime. Run the scheduler "
            "with --runtime docker (BERTH_RUNTIME=docker) so its builds make Docker images"
        )
    if not socket_of(spec):
        raise RuntimeError("the agent gave the container no socket")
    return [spec.python if spec.python.startswith("/") else "python3", "-m", "berth._runtime"]
