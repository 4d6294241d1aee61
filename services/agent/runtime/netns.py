"""Private network namespaces for process-runtime containers, made without external tools.

A `web_server` container listens on a port of the user's choosing (the guide's examples all use
8000), so two of them on one host would collide. Each gets its own network namespace with only
loopback up: the user's server binds there, the runner proxies to it over loopback, and the agent
reaches the runner through the container's unix socket, which crosses namespaces because it lives
on the filesystem. The cost: such containers have no outbound network on the process runtime.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import subprocess
import sys

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_IFREQ = struct.Struct("16sH22x")


def enter_new_network_namespace() -> None:
    """Runs in the child between fork and exec: a new namespace with loopback up."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWNET): {os.strerror(errno)}")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        flags = _IFREQ.unpack(fcntl.ioctl(sock, _SIOCGIFFLAGS, _IFREQ.pack(b"lo", 0)))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | _IFF_UP))


def supported() -> bool:
    """Whether this agent may create network namespaces (root or CAP_SYS_ADMIN), tried in a child."""
    probe = (
        "from services.agent.runtime.netns import enter_new_network_namespace as e; e(); "
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); "
        "socket.create_connection(s.getsockname(), timeout=2).close()"
    )
    try:
        result = subprocess.run([sys.executable, "-c", probe], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0
