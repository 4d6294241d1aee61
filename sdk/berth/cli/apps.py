"""`berth app list|stop|logs`."""

from __future__ import annotations

import datetime
import sys

import grpc

from berth.cli.client import Api, translate
from berth.v1 import control_pb2


def list_apps(api: Api) -> control_pb2.ListAppsResponse:
    try:
        return api.control.ListApps(control_pb2.ListAppsRequest(), metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def print_apps(listing: control_pb2.ListAppsResponse) -> None:
    if listing.unisolated_agents:
        print(
            f"WARNING: containers on {', '.join(listing.unisolated_agents)} are NOT isolated "
            "(single-tenant development only)",
            file=sys.stderr,
        )
    apps = list(listing.apps)
    if not apps:
        print("no apps deployed")
        return
    print(f"{'NAME':24} {'VERSION':>7} {'STATE':9} {'CONTAINERS':>10}  URLS")
    for app in apps:
        urls = " ".join(u.url for u in app.urls)
        domains = [d for u in app.urls for d in u.custom_domains]
        if domains:
            urls += f" (custom domains: {', '.join(domains)})"
        print(f"{app.name:24} {app.version:>7} {app.state:9} {app.containers:>10}  {urls}")


def stop_app(api: Api, name: str, *, ephemeral: bool = False) -> None:
    try:
        api.control.StopApp(control_pb2.StopAppRequest(name=name, ephemeral=ephemeral), metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def print_logs(api: Api, name: str, *, follow: bool) -> None:
    request = control_pb2.AppLogsRequest(name=name, follow=follow)
    try:
        for line in api.control.AppLogs(request, metadata=api.metadata):
            stamp = datetime.datetime.fromtimestamp(line.time_ms / 1000).isoformat(timespec="milliseconds")
            print(f"{stamp} {line.container_id} {line.stream}: {line.text}", flush=True)
    except grpc.RpcError as exc:
        raise translate(exc) from None
    except KeyboardInterrupt:
        sys.exit(130)
