"""Runs one build command inside the sandbox: `python -I -S sandbox_exec.py CONFIG_JSON ARGV...`.

Started by services/builder/sandbox.py (with the scrubbed environment the command gets, and the
scratch directory as cwd), this script uses only the standard library and loads the namespace
primitives (`berth/_runtime/namespaces.py`) by path, so it runs without importing the builder or
`berth`. The config says how much isolation the host allows:

    namespaces / userns   a new mount, pid and IPC namespace (userns: inside a user namespace, as the
                          builder is not root). Directories in `hide` are covered by empty tmpfs and
                          files (sockets) by /dev/null; `private` dirs get a fresh world-writable
                          tmpfs; then `writable` and `readable` paths, opened beforehand, are bound
                          back (read-write / read-only). The command runs as pid 1 of the new pid
                          namespace with a fresh /proc, so when it exits every process it left
                          behind is killed, and it dies with this script (PR_SET_PDEATHSIG).
    uid                   (root, but no namespaces) only the drop to the unprivileged uid below.

Then, in every mode, no new privileges (setuid binaries), and as root: the drop to `uid`:`gid`.
Any failure to set up exits with status 125 and a line on stderr; nothing runs unsandboxed here.

    python -I -S sandbox_exec.py --probe NAMESPACES_PY    prints the mode this host allows
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import signal
import sys
from types import ModuleType
from typing import Any

SETUP_FAILED = 125
_PR_SET_PDEATHSIG = 1


def load_namespaces(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("berth_namespaces", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def probe(namespaces_path: str) -> str:
    """`namespaces` (root, mount namespaces work), `userns` (not root, user namespaces work),
    `uid` (root without namespaces: only the uid drop) or `none` (neither)."""
    root = os.geteuid() == 0
    try:
        ns = load_namespaces(namespaces_path)
        works = bool(ns.available())
    except Exception:
        works = False
    if works:
        return "namespaces" if root else "userns"
    return "uid" if root else "none"


def _die_with_parent(libc: Any) -> None:
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _enter_namespaces(ns: ModuleType, config: dict[str, Any]) -> None:
    """Mount namespace set-up, in this process (the pid namespace applies to its next child)."""
    flags = ns.CLONE_NEWNS | ns.CLONE_NEWPID | ns.CLONE_NEWIPC
    if config["mode"] == "userns":
        outer_uid, outer_gid = os.getuid(), os.getgid()
        ns.unshare(flags | ns.CLONE_NEWUSER)
        # Not root inside either: the capabilities the mounts need are dropped at exec.
        ns.map_ids(config["uid"], outer_uid, config["gid"], outer_gid)
    else:
        ns.unshare(flags)
    ns.make_private("/")
    # Opened in this namespace (a mount of the old one cannot be bound here), before hiding;
    # read-only ones first, so a writable directory below one of them stays writable.
    kept = [
        (path, os.open(path, os.O_PATH), read_only)
        for paths, read_only in ((config["readable"], True), (config["writable"], False))
        for path in paths
    ]
    for path in config["private"]:
        if os.path.isdir(path) and not os.path.islink(path):
            ns.mount_tmpfs(path, mode=0o1777, size=config.get("tmp_size", "512m"))
    for path in config["hide"]:
        ns.hide(path)
    for path, fd, read_only in kept:
        source = f"/proc/self/fd/{fd}"
        if os.path.isdir(source):
            os.makedirs(path, exist_ok=True)
        elif not os.path.exists(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        ns.bind(source, path, read_only=read_only)
        os.close(fd)


def _become_unprivileged(ns: ModuleType, config: dict[str, Any], libc: Any) -> None:
    os.umask(0o022)
    os.chdir(config["cwd"])
    if config["mode"] in ("namespaces", "uid"):
        _die_with_parent(libc)
        ns.drop_privileges(config["uid"], config["gid"])
    ns.set_no_new_privs()
    _die_with_parent(libc)  # again: a change of credentials clears it


def _wait_for(child: int) -> int:
    def kill_child(signum: int, _frame: object) -> None:
        try:
            os.kill(child, signal.SIGKILL)  # pid 1 of its namespace ignores anything gentler
        except ProcessLookupError:
            pass

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, kill_child)
    while True:
        try:
            _, status = os.waitpid(child, 0)
        except ChildProcessError:
            return SETUP_FAILED
        except InterruptedError:  # pragma: no cover - PEP 475 retries; kept for clarity
            continue
        if os.WIFEXITED(status):
            return os.WEXITSTATUS(status)
        if os.WIFSIGNALED(status):
            return 128 + os.WTERMSIG(status)


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[1] == "--probe":
        print(probe(argv[2]))
        return 0
    if len(argv) < 3:
        print("usage: sandbox_exec.py CONFIG_JSON ARGV...", file=sys.stderr)
        return SETUP_FAILED
    config = json.loads(argv[1])
    command = argv[2:]
    libc = ctypes.CDLL(None, use_errno=True)
    try:
        ns = load_namespaces(config["namespaces"])
        if config["mode"] in ("namespaces", "userns"):
            _enter_namespaces(ns, config)
            child = os.fork()
            if child:
                return _wait_for(child)
            ns.mount_proc("/proc")
        _become_unprivileged(ns, config, libc)
    except Exception as exc:  # noqa: BLE001 - any set-up failure ends the run, reported
        print(f"berth build sandbox: set-up failed: {exc}", file=sys.stderr, flush=True)
        os._exit(SETUP_FAILED)
    try:
        os.execv(command[0], command)
    except OSError as exc:
        print(f"berth build sandbox: cannot run {command[0]}: {exc}", file=sys.stderr, flush=True)
    os._exit(SETUP_FAILED)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
