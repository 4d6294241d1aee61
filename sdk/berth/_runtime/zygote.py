"""A pre-imported interpreter that forks containers: `python -m berth._runtime.zygote --fd N`.

Importing FastAPI takes ~275 ms; forking an interpreter that already imported it takes ~2 ms. The
agent's process runtime starts one zygote per image interpreter, with the image's python, and asks
it to fork each container instead of starting a fresh `python -m berth._runtime`.

At start the zygote imports the runner and the libraries a container is likely to need (PRELOAD,
each only if the image has it), then serves the agent over the inherited socket `--fd` (messages in
berth._wire.zygote). It stays single-threaded: fork() copies only the calling thread, so a
thread started before fork would be missing, with whatever locks it held, in every container.

A forked child becomes exactly what `python -m berth._runtime` would be: its own session, the
container's stdin/stdout/stderr on 0/1/2, the container's isolation when the agent sent a plan
(berth._runtime.isolation: namespaces, its own view of the files, its own uid; the forked child
stays outside as the container's keeper and pid 1 of the new pid namespace goes on), the
container's environment (nothing of the zygote's), cwd and sys.path, the interpreter's start-up
signal handlers, then the runner's `main()`. No user code ever runs in the zygote, so what a
child inherits is library state only.
"""

from __future__ import annotations

import argparse
import atexit
import ctypes
import importlib
import os
import select
import signal
import socket
import sys
import threading
import time
import traceback
from collections.abc import Iterable
from typing import Any

from berth._wire.codec import WireError, encode
from berth._wire.zygote import ENVIRON_SPACE_VARIABLE, FDS_PER_FORK, decoder
from berth.v1 import zygote_pb2

from . import isolation, netns
from . import main as runner

# Imported at start when the image has them; a container that needs one then skips the import.
PRELOAD = (
    "berth._runtime.proxy",
    "fastapi",
    "fastapi.middleware.cors",
    "a2wsgi",
    "flask",
    "uvloop",
)
_RUNNER_MAIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "__main__.py")
_RECV_BYTES = 1 << 16


def preload(names: Iterable[str]) -> list[str]:
    """Imports what the image has of `names`; a missing or broken library is the container's business."""
    loaded = []
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - absent or failing here: the container imports it itself
            continue
        loaded.append(name)
    return loaded


def third_party_modules() -> list[str]:
    """Top-level names of the imported modules that are neither builtin nor the standard library."""
    stdlib = set(getattr(sys, "stdlib_module_names", ())) | set(sys.builtin_module_names)
    tops = {name.partition(".")[0] for name in list(sys.modules)}
    return sorted(t for t in tops if t not in stdlib and not t.startswith("_") and t != "__main__")


def _path_entries(value: str) -> list[str]:
    return [p for p in value.split(os.pathsep) if p]


class Zygote:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.decoder = decoder()
        self.fds: list[int] = []
        self.children: set[int] = set()
        # sys.path without the zygote's cwd (`-m` puts it first) and its own PYTHONPATH entries;
        # each child puts its cwd and the container's PYTHONPATH in front, as `-m` would.
        own = set(_path_entries(os.environ.get("PYTHONPATH", "")))
        self.base_path = [p for p in sys.path[1:] if p not in own]
        self.startup_handlers: dict[int, Any] = {}
        for sig in signal.valid_signals():
            try:
                self.startup_handlers[sig] = signal.getsignal(sig)
            except (OSError, ValueError):
                continue
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        signal.set_wakeup_fd(self.wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def send(self, message: zygote_pb2.ZygoteMessage) -> None:
        self.sock.sendall(encode(message))

    def serve(self) -> None:
        """Until the agent closes the socket: fork on request, report each child's exit."""
        space = socket.CMSG_SPACE(FDS_PER_FORK * 8 * ctypes.sizeof(ctypes.c_int))
        while True:
            readable, _, _ = select.select([self.sock.fileno(), self.wake_r], [], [])
            if self.wake_r in readable:
                while True:
                    try:
                        if not os.read(self.wake_r, 512):
                            break
                    except BlockingIOError:
                        break
                self.reap()
            if self.sock.fileno() not in readable:
                continue
            data, ancdata, flags, _ = self.sock.recvmsg(_RECV_BYTES, space)
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    usable = len(payload) - len(payload) % ctypes.sizeof(ctypes.c_int)
                    self.fds.extend(memoryview(payload)[:usable].cast("i"))
            if flags & socket.MSG_CTRUNC:
                raise WireError("file descriptors were lost in transit (MSG_CTRUNC)")
            if not data:
                return
            for message in self.decoder.feed(data):
                if message.WhichOneof("kind") == "fork":
                    self.fork(message.fork)

    def reap(self) -> None:
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.children.discard(pid)
            code = os.waitstatus_to_exitcode(status)
            self.send(zygote_pb2.ZygoteMessage(exit=zygote_pb2.ZygoteExit(pid=pid, exit_code=code)))

    def fork(self, request: zygote_pb2.ZygoteFork) -> None:
        reply = zygote_pb2.ZygoteForked(request_id=request.request_id)
        if len(self.fds) < FDS_PER_FORK:
            reply.error = f"the fork request came with {len(self.fds)} file descriptors, not {FDS_PER_FORK}"
            self.send(zygote_pb2.ZygoteMessage(forked=reply))
            return
        fds, self.fds = self.fds[:FDS_PER_FORK], self.fds[FDS_PER_FORK:]
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            pid = os.fork()
        except OSError as exc:
            reply.error = f"fork(): {exc}"
        else:
            if pid == 0:
                os._exit(self.child(request, fds))
            self.children.add(pid)
            reply.pid = pid
        for fd in fds:
            os.close(fd)
        self.send(zygote_pb2.ZygoteMessage(forked=reply))

    def child(self, request: zygote_pb2.ZygoteFork, fds: list[int]) -> int:
        """Runs in the forked child and never returns to the zygote's loop."""
        try:
            self.become_container(request, fds)
        except BaseException as exc:  # noqa: BLE001 - reported on the container's stderr
            print(f"berth: could not start the container: {type(exc).__name__}: {exc}", file=sys.stderr)
            sys.stderr.flush()
            return 1
        return run_runner()

    def become_container(self, request: zygote_pb2.ZygoteFork, fds: list[int]) -> None:
        env = dict(request.env)
        plan = isolation.take_plan(env)
        # A session of its own, so stopping the container can signal everything it started.
        os.setsid()
        signal.set_wakeup_fd(-1)
        for sig, handler in self.startup_handlers.items():
            if signal.getsignal(sig) is not handler and handler is not None:
                signal.signal(sig, handler)
        os.close(self.sock.detach())
        os.close(self.wake_r)
        os.close(self.wake_w)
        if request.isolate_network:
            netns.enter_new_network_namespace()
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
            os.close(fd)
        if plan is not None:
            # Returns in the container's pid 1; this process stays outside as its keeper.
            isolation.enter(plan)
        os.environ.clear()
        _clearenv()  # whatever libc holds beyond os.environ, so nothing points at the exec-time block
        os.environ.update(env)
        time.tzset()
        os.chdir(request.cwd)
        sys.path[:] = [os.getcwd(), *_path_entries(env.get("PYTHONPATH", "")), *self.base_path]
        sys.argv[:] = [_RUNNER_MAIN]
        importlib.invalidate_caches()
        _rewrite_proc_blocks(sys.orig_argv[:1] + ["-m", "berth._runtime"], env)


def _rewrite_proc_blocks(argv: list[str], env: dict[str, str]) -> None:
    """Shows the container's command line and environment in /proc/self/{cmdline,environ}, as after
    an exec, so `ps` and tools that find containers by their environment see them.

    Those files show the memory the kernel filled at the zygote's exec; nothing uses it after start
    (Python copied it, and libc's environ no longer points there once the child replaced it), so
    the child overwrites it in place. The agent starts the zygote with ENVIRON_SPACE bytes of
    padding so that a container's environment fits; what does not fit is left out of /proc only."""
    try:
        with open("/proc/self/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        arg_start, arg_end, env_start, env_end = (int(x) for x in fields[45:49])
    except (OSError, ValueError):
        return
    berth_first = sorted(env.items(), key=lambda kv: not kv[0].startswith("BERTH_"))
    _fill(arg_start, arg_end, [a.encode() for a in argv])
    _fill(env_start, env_end, [f"{k}={v}".encode(errors="surrogateescape") for k, v in berth_first])


def _fill(start: int, end: int, items: list[bytes]) -> None:
    size = end - start
    data = b""
    for item in items:
        if len(data) + len(item) + 1 > size:
            break
        data += item + b"\0"
    if size > 0:
        ctypes.memmove(start, data.ljust(size, b"\0"), size)


def _clearenv() -> None:
    try:
        ctypes.CDLL(None).clearenv()
    except (OSError, AttributeError):
        pass


def _exit_code(value: object) -> int:
    """What the interpreter makes of `sys.exit(value)`."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    print(value, file=sys.stderr)
    return 1


def run_runner() -> int:
    """The runner's `main()`, then what interpreter shutdown does: join non-daemon threads, run
    atexit hooks, flush the standard streams."""
    try:
        code = runner.main()
    except SystemExit as exc:
        code = _exit_code(exc.code)
    except BaseException:  # noqa: BLE001 - printed as the interpreter would
        traceback.print_exc()
        code = 1
    shutdown_threads = getattr(threading, "_shutdown", None)
    if shutdown_threads is not None:
        try:
            shutdown_threads()
        except BaseException:  # noqa: BLE001, S110 - as at interpreter exit, nothing more to do
            pass
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m berth._runtime.zygote")
    parser.add_argument("--fd", type=int, required=True, help="the agent's end of a unix socket pair")
    args = parser.parse_args(argv)
    sock = socket.socket(fileno=args.fd)
    sock.setblocking(True)
    os.environ.pop(ENVIRON_SPACE_VARIABLE, None)
    loaded = preload(PRELOAD)
    if threading.active_count() != 1:
        names = ", ".join(t.name for t in threading.enumerate())
        print(
            f"berth zygote: importing {loaded} started threads ({names}); cannot fork safely", file=sys.stderr
        )
        return 3
    zygote = Zygote(sock)
    zygote.send(
        zygote_pb2.ZygoteMessage(ready=zygote_pb2.ZygoteReady(pid=os.getpid(), modules=third_party_modules()))
    )
    try:
        zygote.serve()
    except (BrokenPipeError, ConnectionResetError):
        pass  # the agent is gone
    return 0


if __name__ == "__main__":
    sys.exit(main())
