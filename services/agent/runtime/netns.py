"""Private network namespaces for process-runtime containers, made without external tools.

A `web_server` container listens on a port of the user's choosing (the guide's examples all use
8000), so two of them on one host would collide. Each gets its own network namespace with only
loopback up: the user's server binds there, the runner proxies to it over loopback, and the agent
reaches the runner through the container's unix socket, which crosses namespaces because it lives
on the filesystem. The cost: such containers have no outbound network on the process runtime.
"""

from __future__ import annotations

import subprocess
import sys

# The code runs in containers too (forked by the zygote), so it lives in the runner's package.
from berth._runtime.netns import enter_new_network_namespace

__all__ = ["enter_new_network_namespace", "supported"]


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
