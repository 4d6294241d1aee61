"""berth._runtime.namespaces: each test forks a child that makes its own namespaces, does the
operations and reports through a pipe; the parent waits with a timeout. Nothing leaks to the host:
every mount happens inside the child's private mount namespace."""

from __future__ import annotations

import json
import os
import select
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from berth._runtime import namespaces as ns

pytestmark = pytest.mark.skipif(not ns.available(), reason="cannot make mount/pid namespaces here")

UID = 60999
GID = 60999


def in_child(body: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Runs `body` in a forked child inside new mount/pid/ipc namespaces (a user namespace too
    when not root); returns what it returned, or raises what it raised (as a RuntimeError)."""
    read_fd, write_fd = os.pipe()
    outer_uid, outer_gid = os.getuid(), os.getgid()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        os.close(read_fd)
        try:
            flags = ns.CLONE_NEWNS | ns.CLONE_NEWIPC
            if ns.needs_user_namespace():
                ns.unshare(flags | ns.CLONE_NEWUSER)
                ns.map_ids(0, outer_uid, 0, outer_gid)
            else:
                ns.unshare(flags)
            ns.make_private("/")
            report: dict[str, Any] = {"ok": body()}
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            report = {"error": f"{type(exc).__name__}: {exc}"}
        os.write(write_fd, json.dumps(report).encode())
        os._exit(0)
    os.close(write_fd)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(remaining, 0))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                raise TimeoutError("child did not report in time")
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(read_fd)
        os.waitpid(pid, 0)
    report = json.loads(b"".join(chunks) or b'{"error": "child reported nothing"}')
    if "error" in report:
        raise RuntimeError(report["error"])
    return report["ok"]


def test_tmpfs_hides_a_directory(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("k")

    def body() -> list[str]:
        ns.mount_tmpfs(tmp_path, mode=0o700, size="1m")
        return os.listdir(tmp_path)

    assert in_child(body) == []
    # The host's view is untouched.
    assert (tmp_path / "secret.key").read_text() == "k"


def test_read_only_bind_refuses_writes(tmp_path: Path) -> None:
    source = tmp_path / "venv"
    source.mkdir()
    (source / "site.py").write_text("x = 1\n")
    target = tmp_path / "mnt"
    target.mkdir()

    def body() -> dict[str, Any]:
        ns.bind(source, target, read_only=True)
        seen = (target / "site.py").read_text()
        try:
            (target / "site.py").write_text("pwned")
            wrote = True
        except OSError as exc:
            wrote = exc.errno  # type: ignore[assignment]
        return {"seen": seen, "wrote": wrote}

    result = in_child(body)
    assert result["seen"] == "x = 1\n"
    assert result["wrote"] == 30  # EROFS
    assert (source / "site.py").read_text() == "x = 1\n"


def test_read_write_bind_writes_through(tmp_path: Path) -> None:
    source = tmp_path / "state"
    source.mkdir()
    target = tmp_path / "mnt"
    target.mkdir()

    def body() -> bool:
        ns.mount_tmpfs(tmp_path / "mnt", size="1m")  # something to bind over
        ns.bind(source, target)
        (target / "out").write_text("hi")
        return True

    assert in_child(body)
    assert (source / "out").read_text() == "hi"


def test_hide_covers_a_socket_and_a_directory(tmp_path: Path) -> None:
    import socket

    sock_path = tmp_path / "docker.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    server.listen()
    run = tmp_path / "run"
    run.mkdir()
    (run / "nats.sock").write_text("")

    def body() -> dict[str, Any]:
        ns.hide(sock_path)
        ns.hide(run)
        ns.hide(tmp_path / "missing")
        client = socket.socket(socket.AF_UNIX)
        try:
            client.connect(str(sock_path))
            connected: Any = True
        except OSError as exc:
            connected = exc.errno
        return {"connected": connected, "run": os.listdir(run)}

    try:
        result = in_child(body)
    finally:
        server.close()
    assert result["connected"] != True  # noqa: E712 - an errno, not True
    assert result["run"] == []


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another uid needs root")
def test_dropped_uid_cannot_read_a_root_only_file(tmp_path: Path) -> None:
    private = tmp_path / "secret.key"
    private.write_text("k")
    private.chmod(0o600)
    tmp_path.chmod(0o755)

    def body() -> dict[str, Any]:
        ns.drop_privileges(UID, GID)
        try:
            private.read_text()
            readable: Any = True
        except PermissionError:
            readable = False
        try:
            os.setuid(0)
            regained = True
        except PermissionError:
            regained = False
        return {"ids": [os.getuid(), os.geteuid(), os.getgid()], "groups": os.getgroups(),
                "readable": readable, "regained": regained}

    result = in_child(body)
    assert result == {"ids": [UID, UID, GID], "groups": [], "readable": False, "regained": False}


def test_fresh_proc_shows_only_the_new_pid_namespace() -> None:
    def body() -> dict[str, Any]:
        ns.unshare(ns.CLONE_NEWPID)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            ns.mount_proc("/proc")
            pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
            os.write(write_fd, json.dumps({"self": os.getpid(), "pids": pids}).encode())
            os._exit(0)
        os.close(write_fd)
        data = b""
        while chunk := os.read(read_fd, 65536):
            data += chunk
        os.waitpid(pid, 0)
        return json.loads(data)

    result = in_child(body)
    assert result == {"self": 1, "pids": [1]}


def test_errors_name_the_path_and_the_errno(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(OSError) as info:
        # No mount namespace of our own here: bind fails, either for the path or for permission;
        # no mount ever reaches the host because the source does not exist.
        ns.bind(missing, missing)
    assert info.value.errno is not None
    assert info.value.filename == str(missing)
    assert os.strerror(info.value.errno) in str(info.value)


def test_available_is_cached_free_and_true_here() -> None:
    assert ns.available() is True
