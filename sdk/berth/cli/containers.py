"""`berth container list|stop`: the containers the scheduler runs, and stopping one."""

from __future__ import annotations

from typing import Any

import grpc

from berth.cli import output
from berth.cli.client import Api, translate
from berth.v1 import control_pb2


def list_containers(api: Api, app: str = "") -> list[control_pb2.ContainerSummary]:
    """Every container, or those of the app named `app`."""
    request = control_pb2.ListContainersRequest(app=app)
    try:
        return list(api.control.ListContainers(request, metadata=api.metadata).containers)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def stop_container(api: Api, container_id: str) -> control_pb2.StopContainerResponse:
    """Drains the container: requests in flight finish, then it stops."""
    request = control_pb2.StopContainerRequest(container_id=container_id)
    try:
        response: control_pb2.StopContainerResponse = api.control.StopContainer(
            request, metadata=api.metadata
        )
    except grpc.RpcError as exc:
        raise translate(exc) from None
    return response


def format_age(ms: int) -> str:
    """ "-" while booting, then the largest two units: 45s, 3m12s, 2h05m, 1d04h."""
    if ms <= 0:
        return "-"
    seconds = ms // 1000
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _app(c: control_pb2.ContainerSummary) -> str:
    return f"{c.app} (dev)" if c.ephemeral else c.app


def container_rows(found: list[control_pb2.ContainerSummary]) -> list[dict[str, Any]]:
    """What `--json` prints: one object per container."""
    return [
        {
            "id": c.container_id,
            "app": c.app,
            "dev": c.ephemeral,
            "function": c.function,
            "version": c.version,
            "parameters": c.parameters,
            "state": c.state,
            "inflight": c.inflight,
            "max_inputs": c.max_inputs,
            "age_seconds": round(c.age_ms / 1000, 1),
            "agent": c.agent_id,
        }
        for c in found
    ]


def container_table(found: list[control_pb2.ContainerSummary], *, color: bool = False) -> list[str]:
    headers = ["ID", "APP", "FUNCTION", "VERSION", "PARAMETERS", "STATE", "INPUTS", "AGE", "AGENT"]
    rows = [
        [
            c.container_id,
            _app(c),
            c.function,
            f"v{c.version}",
            c.parameters or "-",
            c.state,
            f"{c.inflight}/{c.max_inputs}",
            format_age(c.age_ms),
            c.agent_id,
        ]
        for c in found
    ]
    return output.table(headers, rows, right={3, 6, 7}, color_of=output.state_colors(5), color=color)


def print_containers(found: list[control_pb2.ContainerSummary], *, as_json: bool) -> None:
    if as_json:
        output.print_json(container_rows(found))
        return
    if not found:
        print("no containers running")
        return
    for line in container_table(found, color=output.color_enabled()):
        print(line)
