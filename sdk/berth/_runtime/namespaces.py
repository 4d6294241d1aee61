"""Linux namespace and mount primitives over libc, made without external tools.

Small and typed on purpose: the process runtime's isolation (`berth._runtime.isolation`) and the
builder's sandboxed build steps are built from these. Every call acts on the calling process only;
the caller decides the order (the usual one: `unshare`, `make_private`, mounts, fork into the new
pid namespace, `mount_proc`, `drop_privileges`). Failures raise `OSError` carrying the errno, the
operation with its errno text, and the path involved.

The module lives in the runner's package because it runs inside containers too (in the zygote's
forked children, which have `berth` but not the agent's `services` package).
"""

from __future__ import annotations

import ctypes
import os
from typing import Final

__all__ = [
    "CLONE_NEWIPC",
    "CLONE_NEWNET",
    "CLONE_NEWNS",
    "CLONE_NEWPID",
    "CLONE_NEWUSER",
    "CLONE_NEWUTS",
    "available",
    "bind",
    "drop_capabilities",
    "drop_privileges",
    "hide",
    "make_private",
    "map_ids",
    "mount_proc",
    "mount_tmpfs",
    "needs_user_namespace",
    "remount_read_only",
    "set_no_new_privs",
    "set_parent_death_signal",
    "unshare",
]

CLONE_NEWNS: Final = 0x00020000
CLONE_NEWUTS: Final = 0x04000000
CLONE_NEWIPC: Final = 0x08000000
CLONE_NEWUSER: Final = 0x10000000
CLONE_NEWPID: Final = 0x20000000
CLONE_NEWNET: Final = 0x40000000

MS_RDONLY: Final = 0x1
MS_NOSUID: Final = 0x2
MS_NODEV: Final = 0x4
MS_NOEXEC: Final = 0x8
MS_REMOUNT: Final = 0x20
MS_NOATIME: Final = 0x400
MS_NODIRATIME: Final = 0x800
MS_BIND: Final = 0x1000
MS_REC: Final = 0x4000
MS_PRIVATE: Final = 0x40000
MS_RELATIME: Final = 0x200000

_PR_SET_PDEATHSIG: Final = 1
_PR_CAPBSET_DROP: Final = 24
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_CAP_AMBIENT: Final = 47
_PR_CAP_AMBIENT_CLEAR_ALL: Final = 4
_LINUX_CAPABILITY_VERSION_3: Final = 0x20080522

# statvfs f_flag bits -> mount flags: a read-only remount of a bind must keep the flags the kernel
# locked on the source mount (nosuid, nodev, ...), or it fails with EPERM inside a user namespace.
_KEPT_FLAGS: Final = (
    (os.ST_NOSUID, MS_NOSUID),
    (os.ST_NODEV, MS_NODEV),
    (os.ST_NOEXEC, MS_NOEXEC),
    (os.ST_NOATIME, MS_NOATIME),
    (os.ST_NODIRATIME, MS_NODIRATIME),
    (os.ST_RELATIME, MS_RELATIME),
)

# Loaded once, at import, so a forked child never has to take the dynamic loader's lock.
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.mount.restype = ctypes.c_int
_libc.unshare.argtypes = [ctypes.c_int]
_libc.unshare.restype = ctypes.c_int
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_libc.prctl.restype = ctypes.c_int


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _fail(operation: str, path: str | os.PathLike[str] | None = None) -> OSError:
    err = ctypes.get_errno()
    return OSError(err, f"{operation}: {os.strerror(err)}", None if path is None else os.fspath(path))


def _mount(
    source: str | None,
    target: str | os.PathLike[str],
    fstype: str | None,
    flags: int,
    data: str | None,
    operation: str,
) -> None:
    result = _libc.mount(
        None if source is None else os.fsencode(source),
        os.fsencode(target),
        None if fstype is None else fstype.encode(),
        flags,
        None if data is None else data.encode(),
    )
    if result != 0:
        raise _fail(operation, target)


def unshare(flags: int) -> None:
    """Moves the calling process into new namespaces (`CLONE_NEW*` flags, or-ed).

    `CLONE_NEWPID` applies to the caller's *children*: fork after it, the child is pid 1.
    """
    if _libc.unshare(flags) != 0:
        raise _fail(f"unshare({flags:#x})")


def make_private(path: str | os.PathLike[str] = "/") -> None:
    """Stops mount events propagating between this mount namespace and the host (MS_REC|MS_PRIVATE)."""
    _mount(None, path, None, MS_REC | MS_PRIVATE, None, "make mounts private")


def mount_tmpfs(
    target: str | os.PathLike[str],
    *,
    mode: int = 0o755,
    size: int | str = "64m",
    uid: int | None = None,
    gid: int | None = None,
    flags: int = MS_NOSUID | MS_NODEV,
) -> None:
    """Mounts an empty tmpfs over `target`, hiding whatever was there. `size` is bytes or "64m"."""
    options = [f"mode={mode:o}", f"size={size}"]
    if uid is not None:
        options.append(f"uid={uid}")
    if gid is not None:
        options.append(f"gid={gid}")
    _mount("tmpfs", target, "tmpfs", flags, ",".join(options), "mount tmpfs")


def bind(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    *,
    read_only: bool = False,
    recursive: bool = True,
) -> None:
    """Makes `source` visible at `target` (both must exist, of the same kind: file or directory).

    A read-only bind takes two steps: the bind, then a remount of it with MS_RDONLY, which keeps
    the flags the kernel locked on the source mount.
    """
    flags = MS_BIND | (MS_REC if recursive else 0)
    _mount(os.fspath(source), target, None, flags, None, f"bind {os.fspath(source)}")
    if read_only:
        remount_read_only(target)


def remount_read_only(target: str | os.PathLike[str]) -> None:
    """Makes the mount at `target` read-only in this mount namespace only (a per-mount flag: the
    file system stays writable elsewhere), keeping the flags the kernel locked on it."""
    kept = os.statvfs(target).f_flag
    extra = 0
    for st_flag, ms_flag in _KEPT_FLAGS:
        if kept & st_flag:
            extra |= ms_flag
    flags = MS_REMOUNT | MS_BIND | MS_RDONLY | extra
    _mount(None, target, None, flags, None, "remount read-only")


def hide(path: str | os.PathLike[str]) -> None:
    """Covers `path` so nothing of it stays visible: an empty tmpfs for a directory, /dev/null for
    anything else (sockets, files). A path that does not exist is left alone."""
    if not os.path.lexists(path):
        return
    if os.path.isdir(path) and not os.path.islink(path):
        mount_tmpfs(path, mode=0o755, size="16k", flags=MS_NOSUID | MS_NODEV | MS_NOEXEC)
    elif os.path.islink(path):
        # A symlink is resolved by mount(2); hide what it points at instead.
        hide(os.path.realpath(path))
    else:
        bind("/dev/null", path, read_only=True, recursive=False)


def mount_proc(target: str | os.PathLike[str] = "/proc") -> None:
    """Mounts a fresh /proc: it shows the processes of the caller's pid namespace only.

    The caller must already be inside the new pid namespace (a child forked after
    `unshare(CLONE_NEWPID)`) and in a mount namespace of its own.
    """
    _mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "mount proc")


def set_no_new_privs() -> None:
    """No exec from here on may gain privileges (setuid binaries, file capabilities)."""
    if _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise _fail("prctl(PR_SET_NO_NEW_PRIVS)")


def set_parent_death_signal(sig: int) -> None:
    """`sig` is sent to the caller when the thread that forked it ends. Cleared by the kernel when
    the caller's credentials change: set it after `drop_privileges`."""
    if _libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) != 0:
        raise _fail("prctl(PR_SET_PDEATHSIG)")


def drop_capabilities() -> None:
    """Gives up every capability: effective, permitted, inheritable, ambient and (where allowed)
    the bounding set. For a process that must keep its uid, e.g. inside a user namespace where
    it is the only uid mapped. Verified afterwards."""
    _libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)  # EINVAL on old kernels: none
    for cap in range(64):
        if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            if ctypes.get_errno() == 22:  # EINVAL: past the last capability this kernel knows
                break
            # EPERM: no CAP_SETPCAP; with nothing permitted and no_new_privs it cannot come back.
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if _libc.capset(ctypes.byref(header), data) != 0:
        raise _fail("capset")
    check = (_CapData * 2)()
    if _libc.capget(ctypes.byref(header), check) != 0:
        raise _fail("capget")
    if any(d.effective or d.permitted or d.inheritable for d in check):
        raise OSError(1, "drop capabilities: some capabilities remain")


def drop_privileges(uid: int, gid: int) -> None:
    """Becomes `uid`:`gid` for good (real, effective and saved ids, no supplementary groups).

    Verified afterwards: the ids read back as asked and, for a non-root uid, root cannot be
    regained. Raises `OSError` (EPERM) otherwise.
    """
    try:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    except OSError as exc:
        raise OSError(exc.errno, f"drop privileges to {uid}:{gid}: {os.strerror(exc.errno or 0)}") from exc
    stuck = os.getresuid() == (uid, uid, uid) and os.getresgid() == (gid, gid, gid)
    if not stuck or os.getgroups() not in ([], [gid]):
        raise OSError(1, f"drop privileges to {uid}:{gid}: ids did not stick")
    if uid != 0:
        try:
            os.setuid(0)
        except PermissionError:
            return
        raise OSError(1, f"drop privileges to {uid}:{gid}: root could be regained")


def map_ids(inside_uid: int, outside_uid: int, inside_gid: int, outside_gid: int) -> None:
    """After `unshare(CLONE_NEWUSER)` as an unprivileged user: maps one uid and one gid.

    Typically `map_ids(0, os.getuid(), 0, os.getgid())` (read the outside ids *before* unsharing),
    which gives the process the capabilities it needs for mounts inside its own namespaces.
    """
    try:
        with open("/proc/self/setgroups", "w") as f:
            f.write("deny")
    except FileNotFoundError:
        pass
    for name, inside, outside in (("uid_map", inside_uid, outside_uid), ("gid_map", inside_gid, outside_gid)):
        path = f"/proc/self/{name}"
        try:
            with open(path, "w") as f:
                f.write(f"{inside} {outside} 1\n")
        except OSError as exc:
            raise OSError(exc.errno, f"write {name}: {os.strerror(exc.errno or 0)}", path) from exc


def needs_user_namespace() -> bool:
    """Whether namespaces must be made inside a new user namespace (the caller is not root)."""
    return os.geteuid() != 0


def available(timeout: float = 5.0) -> bool:
    """Whether this process can make mount and pid namespaces and mount in them: as root, or
    through an unprivileged user namespace. Tried for real, in a forked child."""
    import select
    import time

    use_userns = needs_user_namespace()
    outer_uid, outer_gid = os.getuid(), os.getgid()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        ok = b"n"
        try:
            os.close(read_fd)
            flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC
            if use_userns:
                unshare(flags | CLONE_NEWUSER)
                map_ids(0, outer_uid, 0, outer_gid)
            else:
                unshare(flags)
            make_private("/")
            mount_tmpfs("/tmp", size="16k")
            ok = b"y"
        except BaseException:
            pass
        finally:
            try:
                os.write(write_fd, ok)
            finally:
                os._exit(0)
    os.close(write_fd)
    try:
        deadline = time.monotonic() + timeout
        answer = b""
        while not answer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            ready, _, _ = select.select([read_fd], [], [], remaining)
            if not ready:
                break
            answer = os.read(read_fd, 1) or b"n"
        return answer == b"y"
    finally:
        os.close(read_fd)
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
