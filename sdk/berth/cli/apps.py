"""`berth app list|stop` (`berth app logs` is in logs.py); `app list --json` for scripts."""

from __future__ import annotations

import sys
from typing import Any

import grpc

from berth.cli import output
from berth.cli.client import Api, translate
from berth.cli.output import iso_time
from berth.v1 import control_pb2


def list_apps(api: Api, *, include_stopped: bool = False) -> control_pb2.ListAppsResponse:
    """Deployed and served apps; with `include_stopped`, stopped ones too (state "stopped")."""
    request = control_pb2.ListAppsRequest(include_stopped=include_stopped)
    try:
        return api.control.ListApps(request, metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def app_rows(listing: control_pb2.ListAppsResponse) -> list[dict[str, Any]]:
    """What `--json` prints: one object per app."""
    return [
        {
            "name": app.name,
            "version": app.version,
            "state": app.state,
            "dev": app.ephemeral,
            "containers": app.containers,
            "deployed": iso_time(app.deployed_at_ms),
            "urls": [
                {"function": u.function, "url": u.url, "custom_domains": list(u.custom_domains)}
                for u in app.urls
            ],
            "failing": [
                {
                    "function": f.function,
                    "failures": f.failures,
                    "retry_in_seconds": round(f.retry_in_ms / 1000, 1),
                    "last_error": f.last_error,
                }
                for f in app.failing
            ],
        }
        for app in listing.apps
    ]


def print_apps(listing: control_pb2.ListAppsResponse, *, as_json: bool = False) -> None:
    if listing.unisolated_agents:
        print(
            f"WARNING: containers on {', '.join(listing.unisolated_agents)} are NOT isolated "
            "(single-tenant development only)",
            file=sys.stderr,
        )
    if as_json:
        output.print_json(app_rows(listing))
        return
    apps = list(listing.apps)
    if not apps:
        print("no apps deployed")
        return
    rows = []
    for app in apps:
        urls = " ".join(u.url for u in app.urls) or "-"
        domains = [d for u in app.urls for d in u.custom_domains]
        if domains:
            urls += f" (custom domains: {', '.join(domains)})"
        rows.append([app.name, str(app.version), app.state, str(app.containers), urls])
    header, *lines = output.table(
        ["NAME", "VERSION", "STATE", "CONTAINERS", "URLS"],
        rows,
        right={1, 3},
        color_of=output.state_colors(2),
        color=output.color_enabled(),
    )
    print(header)
    for app, line in zip(apps, lines, strict=True):
        print(line)
        for failing in app.failing:  # crash-looping: say what fails, and when it is tried again
            print(
                f"  {failing.function}: fails at start ({failing.failures} in a row, next try in "
                f"{failing.retry_in_ms / 1000:.0f}s): {failing.last_error}"
            )


def stop_app(api: Api, name: str, *, ephemeral: bool = False) -> None:
    try:
        api.control.StopApp(control_pb2.StopAppRequest(name=name, ephemeral=ephemeral), metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None
