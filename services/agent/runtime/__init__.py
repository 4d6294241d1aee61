"""Container runtimes: how a container is started and stopped. `select()` picks one by name."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from services.agent.runtime.base import (
    Capabilities,
    Container,
    Isolation,
    LaunchSpec,
    ProcessGroupContainer,
    Runtime,
)


def select(name: str, *, home: Path | None = None, agent_id: str = "") -> Runtime:
    if name == "process":
        from services.agent.runtime import netns
        from services.agent.runtime.process import ProcessRuntime, detect_isolation

        # BERTH_ZYGOTES=0 starts every container as a fresh interpreter (no pre-imported zygotes).
        zygotes = os.environ.get("BERTH_ZYGOTES", "1") != "0"
        # BERTH_ISOLATION=none runs containers without namespaces even where the host allows them.
        isolation = detect_isolation(os.environ.get("BERTH_ISOLATION", "auto"))
        runtime = ProcessRuntime(
            network_namespaces=netns.supported(),
            zygotes=zygotes,
            isolation=isolation,
            home=home,
            agent_id=agent_id,
        )
        if isolation is Isolation.NAMESPACES:
            # Installed once here, at start, so a cold start costs nothing more. The range covers
            # every agent's uids: the table is the same for all of them (see egress.py).
            from services.agent.runtime import egress
            from services.agent.runtime.process import UidRange

            last = UidRange.BASE + UidRange.BLOCKS * UidRange.SIZE - 1
            filtered = egress.install(UidRange.BASE, last).filtered
            runtime.capabilities = dataclasses.replace(runtime.capabilities, egress_filtered=filtered)
        return runtime
    if name == "docker":
        from services.agent.runtime.docker import DockerRuntime

        return DockerRuntime(home=home or Path.home() / ".berth", agent_id=agent_id)
    raise SystemExit(f"unknown runtime {name!r}: this agent supports 'process' and 'docker'")


__all__ = [
    "Capabilities",
    "Container",
    "Isolation",
    "LaunchSpec",
    "ProcessGroupContainer",
    "Runtime",
    "select",
]
