"""Isolating a process-runtime container, between fork and the runner: what the container sees.

The agent decides *what* a container may see and writes it as a `Plan` into the container's
environment (`BERTH_ISOLATION_PLAN`, removed before any user code runs); `enter(plan)` makes it so
in the calling process, which must be single-threaded, the leader of the container's session,
with the container's stdio already on 0/1/2:

1. new mount, IPC and pid namespaces (and a user namespace when the agent is not root);
2. every mount made private, then the plan's `hide` paths covered (an empty tmpfs, or /dev/null
   for a file or socket) and its `scratch` directories replaced by empty writable tmpfs (/tmp ...);
3. what the container needs bound back at the same paths: `writable` (its state dir, its socket),
   `read_only` (its code, the image) and the interpreter's own paths that fell under a hidden
   directory (read-only);
4. a fork: the child is pid 1 of the new pid namespace. It mounts a /proc that shows only the
   container's processes, drops to the container's uid and gid (or, in a user namespace, drops
   every capability), sets no_new_privs, and returns to the caller to run the runner.

The calling process stays outside the pid namespace as the container's *keeper*: it waits for
pid 1 and exits with its status (the same code, or the same signal), so whoever started it sees
the container end as before. Pid 1 leads a session of its own, as the runner always did; the
keeper relays the signals it gets (SIGTERM, SIGINT, ...) to that session's process group, and if
it is killed pid 1 gets SIGKILL (parent-death signal), which ends every process of the container.

Built on `berth._runtime.namespaces` (libc through ctypes): the zygote forks containers without an
exec, so the isolation has to be applied in-process; an external tool (bubblewrap, unshare(1))
could only wrap a fresh interpreter, costing an exec and leaving two mechanisms to keep in step.
"""

from __future__ import annotations

import json
import os
import select
import signal
import sys
from collections.abc import Iterable, MutableMapping
from dataclasses import asdict, dataclass, field
from typing import Any

from . import namespaces as ns

PLAN_VARIABLE = "BERTH_ISOLATION_PLAN"
# Modes: the agent is root (a uid of the container's own), or it is not (a user namespace).
ROOT = "root"
USER_NAMESPACE = "userns"
SCRATCH_SIZE = "512m"
SHM_SIZE = "64m"
_FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


@dataclass(frozen=True)
class Plan:
    """What one container sees; paths are host paths, seen at the same place inside."""

    mode: str = ROOT
    uid: int = -1  # ROOT mode: the container's own uid and gid
    gid: int = -1
    hide: tuple[str, ...] = ()  # covered: $BERTH_HOME, /run, the Docker socket ...
    scratch: tuple[str, ...] = ()  # replaced by an empty tmpfs anyone may write to (/tmp ...)
    writable: tuple[str, ...] = ()  # bound back read-write: the state dir, the socket
    read_only: tuple[str, ...] = ()  # bound back read-only: the code, the image
    # Every mount not listed above becomes read-only too: in a user namespace the container
    # runs as the agent's uid, so permissions alone would let it write the agent's files.
    read_only_root: bool = False
    container_id: str = ""
    label: str = field(default="", compare=False)  # shown as the keeper's command line

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> Plan:
        raw: dict[str, Any] = json.loads(text)
        tuples = ("hide", "scratch", "writable", "read_only")
        fields: dict[str, Any] = {k: tuple(v) if k in tuples else v for k, v in raw.items()}
        return cls(**fields)


def take_plan(env: MutableMapping[str, str]) -> Plan | None:
    """Removes the plan from `env` (a container's environment, or os.environ) and returns it."""
    text = env.pop(PLAN_VARIABLE, None)
    return Plan.decode(text) if text else None


def enter(plan: Plan) -> None:
    """Isolates the caller as `plan` says; returns in the container's pid 1. See the module doc."""
    outer_uid, outer_gid = os.getuid(), os.getgid()
    flags = ns.CLONE_NEWNS | ns.CLONE_NEWIPC | ns.CLONE_NEWPID
    if plan.mode == USER_NAMESPACE:
        ns.unshare(flags | ns.CLONE_NEWUSER)
        # The same uid inside as outside: files keep their owners, and nothing becomes root.
        ns.map_ids(outer_uid, outer_uid, outer_gid, outer_gid)
    else:
        ns.unshare(flags)
    ns.make_private("/")
    build_view(plan)
    blocks = _proc_blocks()
    alive_r, alive_w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(alive_w)
        _become_pid_one(plan, alive_r)
        return
    os.close(alive_r)
    _keep(pid, plan, blocks)


def build_view(plan: Plan) -> None:
    """Steps 2 and 3: hides, scratch space and binds, in the caller's (new) mount namespace."""
    old_umask = os.umask(0o022)
    try:
        hidden = sorted({os.path.abspath(p) for p in (*plan.hide, *plan.scratch)}, key=len)
        binds = _binds(plan, hidden)
        for path in hidden:
            if path in plan.scratch:
                if os.path.isdir(path):
                    size = SHM_SIZE if path == "/dev/shm" else SCRATCH_SIZE
                    ns.mount_tmpfs(path, mode=0o1777, size=size)
            else:
                ns.hide(path)
        for target, fd, is_dir, read_only in binds:
            try:
                _mount_point(target, is_dir)
                ns.bind(f"/proc/self/fd/{fd}", target, read_only=read_only)
            finally:
                os.close(fd)
        if plan.read_only_root:
            _read_only_elsewhere(keep={*plan.scratch, *(b[0] for b in binds)})
    finally:
        os.umask(old_umask)


def _binds(plan: Plan, hidden: list[str]) -> list[tuple[str, int, bool, bool]]:
    """(target, O_PATH fd of the source, is a directory, read-only), parents first. The sources
    are opened before anything is hidden: once covered they could not be reached by path."""

    def under_hidden(path: str) -> bool:
        return any(path == h or path.startswith(h.rstrip("/") + "/") for h in hidden)

    def reveals(path: str) -> bool:
        """Binding `path` back would show a hidden path again (it is one, or holds one)."""
        return any(h == path or h.startswith(path.rstrip("/") + "/") for h in hidden)

    wanted: dict[str, bool] = {}
    for path in plan.read_only:
        wanted[os.path.abspath(path)] = True
    for path in plan.writable:
        wanted[os.path.abspath(path)] = False
    for path in _interpreter_paths():
        if under_hidden(path):
            wanted.setdefault(path, True)
    wanted = {path: ro for path, ro in wanted.items() if not reveals(path)}
    chosen: list[tuple[str, bool]] = []
    for path in sorted(wanted, key=len):
        read_only = wanted[path]
        covered = any(
            read_only and other_ro and path.startswith(other.rstrip("/") + "/") for other, other_ro in chosen
        )
        if not covered:
            chosen.append((path, read_only))
    required = {os.path.abspath(p) for p in (*plan.writable, *plan.read_only)}
    out = []
    try:
        for path, read_only in chosen:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except FileNotFoundError:
                if path in required:
                    raise
                continue
            out.append((path, fd, os.path.isdir(f"/proc/self/fd/{fd}"), read_only))
    except BaseException:
        for _, fd, _, _ in out:
            os.close(fd)
        raise
    return out


def _interpreter_paths() -> Iterable[str]:
    """Where this interpreter reads from: prefixes, the executable's directory, sys.path."""
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for exe in (sys.executable, os.path.realpath(sys.executable)):
        if exe:
            candidates.add(os.path.dirname(exe))
    candidates.update(p for p in sys.path if p)
    return sorted(os.path.abspath(p) for p in candidates if os.path.exists(p))


def _mount_point(target: str, is_dir: bool) -> None:
    if is_dir:
        os.makedirs(target, exist_ok=True)
        return
    os.makedirs(os.path.dirname(target), exist_ok=True)
    if not os.path.lexists(target):
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))


def _read_only_elsewhere(keep: set[str]) -> None:
    """Remounts every mount of this namespace read-only but `keep`, /proc, /sys and /dev ones."""
    skip_under = ("/proc", "/sys", "/dev")
    with open("/proc/self/mountinfo") as f:
        points = [_unescape(line.split()[4]) for line in f]
    for point in points:
        if point in keep or any(point == s or point.startswith(s + "/") for s in skip_under):
            continue
        try:
            os.statvfs(point)
        except (FileNotFoundError, PermissionError, NotADirectoryError):
            continue  # under a hidden directory, or one this uid cannot enter: out of reach anyway
        try:
            ns.remount_read_only(point)
        except OSError as exc:
            # A mount that cannot be made read-only here (locked, or gone): refuse to run the
            # container rather than leave the agent's files writable.
            raise OSError(exc.errno, f"cannot make {point} read-only: {exc.strerror}") from exc


def _unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as \\ooo."""
    return field.encode().decode("unicode_escape") if "\\" in field else field


def _become_pid_one(plan: Plan, alive_r: int) -> None:
    """In the container's first process: its session, /proc, privileges, a tie to the keeper."""
    # A session and process group of its own, as the container had before isolation (the host
    # sees the runner as its session's leader); the keeper relays the group's signals to it.
    os.setsid()
    try:
        ns.mount_proc("/proc")
    except OSError:
        if plan.mode != USER_NAMESPACE:
            raise
        # A user namespace may not mount proc where the host's is partly covered (a container
        # host's masked /proc paths): cover it instead, so no other process shows at all.
        ns.hide("/proc")
    if plan.mode == USER_NAMESPACE:
        ns.drop_capabilities()
    else:
        ns.drop_privileges(plan.uid, plan.gid)
    ns.set_no_new_privs()
    # After the uid change, which clears it: the container ends with its keeper.
    ns.set_parent_death_signal(signal.SIGKILL)
    readable, _, _ = select.select([alive_r], [], [], 0)
    if readable:  # EOF: the keeper died before the signal was armed
        os._exit(137)
    os.close(alive_r)


def _keep(pid: int, plan: Plan, blocks: tuple[int, int, int, int] | None) -> None:
    """The keeper: shows as `berth container <id>`, relays signals, mirrors pid 1's end."""
    if blocks is not None:
        label = plan.label or f"berth container {plan.container_id} (keeper)"
        _blank(blocks[0], blocks[1], label.encode())
        _blank(blocks[2], blocks[3], b"")  # its environment held the container's

    def relay(sig: int, _frame: object) -> None:
        try:
            group = os.getpgid(pid)
            if group != os.getpgrp():  # else the signal, sent to our group, reached it already
                os.killpg(group, sig)
        except OSError:
            pass

    for sig in _FORWARDED:
        signal.signal(sig, relay)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            os._exit(1)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            break
    if os.WIFSIGNALED(status):
        ended = os.WTERMSIG(status)
        signal.signal(ended, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [ended])
        os.kill(os.getpid(), ended)
        os._exit(128 + ended)
    os._exit(os.WEXITSTATUS(status))


def _proc_blocks() -> tuple[int, int, int, int] | None:
    """The addresses of this process's command line and environment, as /proc shows them."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        arg_start, arg_end, env_start, env_end = (int(x) for x in fields[45:49])
    except (OSError, ValueError):
        return None
    return arg_start, arg_end, env_start, env_end


def _blank(start: int, end: int, text: bytes) -> None:
    import ctypes

    size = end - start
    if size > 0:
        data = text[: max(size - 1, 0)]
        ctypes.memmove(start, data.ljust(size, b"\0"), size)
