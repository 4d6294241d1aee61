"""The process runtime: each container is a process group of its own running the image's
virtualenv interpreter, isolated with Linux namespaces wherever the host allows it.

Containers are forked from a zygote of their image (a pre-imported interpreter, see zygote.py);
a container starts as a fresh interpreter, a child of the agent, when no zygote can serve it.

Isolation (berth._runtime.isolation does it, between fork and the runner, on either path):
- agent running as root: each container gets a uid and gid of its own (from a range this agent
  picks, see `UidRange`), and mount, pid and IPC namespaces;
- agent not root, unprivileged user namespaces allowed: the same namespaces inside a user
  namespace, under the agent's uid, with every other mount read-only;
- neither: a process group under the agent's uid, and the agent says so loudly.
In a namespace the container finds $BERTH_HOME, the agent user's home, /run and the Docker socket
covered, an empty /tmp, /var/tmp and /dev/shm of its own, its code, image and interpreter
read-only, its state dir and its unix socket writable, and a /proc with only its own processes.
Kernel namespaces rather than bubblewrap: the zygote forks containers without an exec, so the
isolation has to happen in-process (bwrap would need a fresh interpreter per container, and it is
not on every host); the primitives are small and tested (berth._runtime.namespaces).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import signal
import stat
from collections.abc import Callable
from pathlib import Path

from berth._runtime import isolation as plans
from berth._runtime import namespaces
from services.agent.runtime import netns
from services.agent.runtime.base import Capabilities, Container, Isolation, LaunchSpec, ProcessGroupContainer
from services.agent.runtime.leftovers import Ledger
from services.agent.runtime.zygote import Zygotes, ZygoteUnavailable, shadowing, startup_env
from services.common import logs

log = logging.getLogger("berth.agent")
_PIPE_LIMIT = 1 << 20
# Host directories every user may write to: each container gets empty ones of its own instead.
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")
# Covered whole: sockets of the host's daemons (Docker's among them) and the platform's run files.
HIDDEN = ("/run", "/var/run", "/var/run/docker.sock", "/run/docker.sock")
# Files that may live under a hidden directory and that containers still need (DNS).
_NEEDED_FILES = ("/etc/resolv.conf", "/etc/hosts")


class UidRange:
    """Uids (and gids, the same numbers) for containers: SIZE of them from `first`, handed out
    round-robin so a uid is reused as late as possible. None of them owns a file outside the
    containers' state dirs, and no two containers running at once share one."""

    SIZE = 65536
    # 8192 blocks of SIZE from 2^30: far above the uids of real users and of subuid ranges.
    BASE = 1 << 30
    BLOCKS = 8192

    def __init__(self, first: int) -> None:
        self.first = first
        self._next = 0
        self._taken: set[int] = set()

    @classmethod
    def for_agent(cls, home: Path, agent_id: str) -> UidRange:
        """A block picked from the agent's home and id: agents of other platforms on this host
        (each its own home) use other uids."""
        digest = hashlib.sha256(f"{home.expanduser().resolve()}\0{agent_id}".encode()).digest()
        return cls(cls.BASE + int.from_bytes(digest[:4], "big") % cls.BLOCKS * cls.SIZE)

    def take(self) -> int:
        if len(self._taken) >= self.SIZE:
            raise RuntimeError(f"all {self.SIZE} container uids from {self.first} are in use")
        while True:
            uid = self.first + self._next
            self._next = (self._next + 1) % self.SIZE
            if uid not in self._taken:
                self._taken.add(uid)
                return uid

    def give_back(self, uid: int) -> None:
        self._taken.discard(uid)


def detect_isolation(wanted: str = "auto") -> Isolation:
    """What this agent can give its containers: NAMESPACES as root, USER_NAMESPACE where
    unprivileged user namespaces are allowed, NONE otherwise or when `wanted` is "none"."""
    from berth._runtime import namespaces

    if wanted == "none" or not namespaces.available():
        return Isolation.NONE
    return Isolation.USER_NAMESPACE if namespaces.needs_user_namespace() else Isolation.NAMESPACES


def isolation_plan(
    spec: LaunchSpec, *, isolation: Isolation, uid: int, home: Path, extra_hidden: tuple[str, ...] = ()
) -> plans.Plan:
    """What the container of `spec` sees (see the module doc); host paths, seen in place."""
    hidden = {os.path.realpath(p) for p in (str(home), *HIDDEN, *extra_hidden) if os.path.lexists(p)}
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host.startswith("unix://") and os.path.lexists(docker_host[7:]):
        hidden.add(os.path.realpath(docker_host[7:]))
    # The agent user's home (ssh keys, cloud credentials, the default $BERTH_HOME) is none of the
    # container's business; an interpreter installed there (pyenv, uv) is bound back read-only.
    user_home = os.path.expanduser("~")
    if user_home not in ("/", "") and os.path.isdir(user_home):
        hidden.add(os.path.realpath(user_home))
    venv = Path(spec.python).parent.parent
    read_only = [str(spec.code_dir), str(venv), str(spec.cwd)]
    read_only += [p for p in spec.env.get("PYTHONPATH", "").split(os.pathsep) if p and os.path.exists(p)]
    for needed in _NEEDED_FILES:
        real = os.path.realpath(needed)
        if real != needed and os.path.exists(real):
            read_only.append(real)  # a symlink into /run (systemd-resolved): keep DNS working
    writable = [str(spec.state_dir)]
    if spec.socket_path:
        writable.append(spec.socket_path)
    return plans.Plan(
        mode=plans.USER_NAMESPACE if isolation is Isolation.USER_NAMESPACE else plans.ROOT,
        uid=uid,
        gid=uid,
        hide=tuple(sorted(hidden)),
        scratch=tuple(p for p in SCRATCH if os.path.isdir(p)),
        writable=tuple(writable),
        read_only=tuple(dict.fromkeys(read_only)),
        read_only_root=isolation is Isolation.USER_NAMESPACE,
        container_id=spec.container_id,
    )


def hand_over(spec: LaunchSpec, uid: int) -> None:
    """Gives the container's uid its state dir (HOME, the boot order) and its socket; makes its
    code readable (bundles extracted by an older agent were private to it)."""
    for path in (spec.state_dir, *spec.state_dir.iterdir()):
        os.chown(path, uid, uid, follow_symlinks=False)
    if spec.socket_path:
        os.chown(spec.socket_path, uid, uid)
    mode = stat.S_IMODE(os.stat(spec.code_dir).st_mode)
    if mode & 0o055 != 0o055:
        for root, _dirs, files in os.walk(spec.code_dir):
            os.chmod(root, 0o755)
            for name in files:
                os.chmod(os.path.join(root, name), 0o644, follow_symlinks=False)


class ProcessRuntime:
    name = "process"

    def __init__(
        self,
        *,
        network_namespaces: bool,
        zygotes: bool = True,
        isolation: Isolation = Isolation.NONE,
        home: Path | None = None,
        agent_id: str = "",
    ) -> None:
        self.capabilities = Capabilities(
            isolation=isolation,
            network_namespaces=network_namespaces,
            outbound_network=True,
            resource_limits=False,
        )
        self._home = home or Path.home() / ".berth"
        self._uids = UidRange.for_agent(self._home, agent_id) if isolation is Isolation.NAMESPACES else None
        self._zygotes = Zygotes() if zygotes else None
        self._ledger = Ledger(self._home / "run" / f"containers-{agent_id or 'agent'}")
        self._ledger.end_leftovers()

    async def launch(self, spec: LaunchSpec) -> Container:
        uids = self._uids
        uid = uids.take() if uids is not None else os.getuid()

        ledger = self._ledger

        def release() -> None:
            ledger.remove(spec.container_id)
            if uids is not None:
                uids.give_back(uid)

        try:
            env = spec.env
            if self.capabilities.isolated:
                if self._uids is not None:
                    hand_over(spec, uid)
                plan = isolation_plan(spec, isolation=self.capabilities.isolation, uid=uid, home=self._home)
                env = {**spec.env, plans.PLAN_VARIABLE: plan.encode()}
            container = await self._start(spec, env, release)
        except BaseException:
            release()
            raise
        ledger.add(spec.container_id, container.pid)
        return container

    async def _start(
        self, spec: LaunchSpec, env: dict[str, str], release: Callable[[], None]
    ) -> ProcessGroupContainer:
        isolate = spec.isolate_network and self.capabilities.network_namespaces
        if self._zygotes is not None:
            try:
                forked = await self._fork(self._zygotes, spec, env, isolate=isolate, release=release)
            except ZygoteUnavailable as exc:
                logs.event(
                    log,
                    "zygote could not fork; starting a fresh interpreter",
                    logging.WARNING,
                    container=spec.container_id,
                    reason=str(exc),
                )
            else:
                if forked is not None:
                    return forked
        return await self._spawn(spec, env, isolate=isolate, release=release)

    async def _fork(
        self,
        zygotes: Zygotes,
        spec: LaunchSpec,
        env: dict[str, str],
        *,
        isolate: bool,
        release: Callable[[], None],
    ) -> ProcessGroupContainer | None:
        zygote = await zygotes.get(spec.python, startup_env(spec.env))
        if zygote is None:
            return None
        paths = [str(spec.cwd), str(spec.code_dir), *spec.env.get("PYTHONPATH", "").split(os.pathsep)]
        shadow = shadowing(filter(None, paths), zygote.modules)
        if shadow:
            logs.event(
                log,
                "container code shadows a preloaded module; starting a fresh interpreter",
                container=spec.container_id,
                path=shadow,
            )
            return None
        loop = asyncio.get_running_loop()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            pid, exited = await zygote.fork(
                env, str(spec.cwd), isolate_network=isolate, fds=(devnull, out_w, err_w)
            )
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            for fd in (devnull, out_w, err_w):
                os.close(fd)
        stdout = await _read_pipe(loop, out_r)
        stderr = await _read_pipe(loop, err_r)
        return ProcessGroupContainer(spec.container_id, pid, exited, stdout, stderr, on_end=release)

    async def _spawn(
        self, spec: LaunchSpec, env: dict[str, str], *, isolate: bool, release: Callable[[], None]
    ) -> ProcessGroupContainer:
        process = await asyncio.create_subprocess_exec(
            spec.python,
            "-m",
            "berth._runtime",
            env=env,
            cwd=str(spec.cwd),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            # A session of its own, so stopping the container can signal everything it started.
            preexec_fn=_own_session_and_network if isolate else _own_session,  # noqa: PLW1509
            limit=_PIPE_LIMIT,
        )
        assert process.stdout is not None and process.stderr is not None
        exited: asyncio.Future[int] = asyncio.ensure_future(process.wait())
        return ProcessGroupContainer(
            spec.container_id, process.pid, exited, process.stdout, process.stderr, on_end=release
        )

    async def close(self) -> None:
        """Stops the zygotes (the agent stops the containers first)."""
        if self._zygotes is not None:
            await self._zygotes.close()


def _own_session() -> None:
    os.setsid()
    # The container ends with the agent that started it (see berth._runtime.isolation's keeper).
    namespaces.set_parent_death_signal(signal.SIGKILL)


def _own_session_and_network() -> None:
    _own_session()
    netns.enter_new_network_namespace()


async def _read_pipe(loop: asyncio.AbstractEventLoop, fd: int) -> asyncio.StreamReader:
    reader = asyncio.StreamReader(limit=_PIPE_LIMIT, loop=loop)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader, loop=loop), os.fdopen(fd, "rb", 0)
    )
    return reader
