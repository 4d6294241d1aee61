"""`berth app history|rollback`: the kept versions of an app, and serving an earlier one again."""

from __future__ import annotations

import datetime
from typing import Any

import grpc

from berth._errors import InvalidError
from berth.cli import output
from berth.cli.client import Api, translate
from berth.v1 import control_pb2


def parse_version(text: str) -> int:
    """A version as `berth app history` prints it: "3" or "v3"."""
    digits = text.strip().lower().removeprefix("v")
    if not digits.isdigit() or int(digits) < 1:
        raise InvalidError(f"version {text!r} is not a version number (like 3 or v3)")
    return int(digits)


def app_history(api: Api, name: str) -> list[control_pb2.AppVersion]:
    """The app's kept versions, newest first."""
    try:
        response = api.control.AppHistory(control_pb2.AppHistoryRequest(name=name), metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None
    return list(response.versions)


def rollback(api: Api, name: str, version: int = 0) -> control_pb2.RollbackAppResponse:
    """Serves `version` (0: the one before the serving one) again as a new version."""
    request = control_pb2.RollbackAppRequest(name=name, version=version)
    try:
        response: control_pb2.RollbackAppResponse = api.control.RollbackApp(request, metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None
    return response


def _time(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC).isoformat(timespec="seconds")


def history_rows(versions: list[control_pb2.AppVersion]) -> list[dict[str, Any]]:
    """What `--json` prints: one object per version."""
    return [
        {
            "version": v.version,
            "deployed": _time(v.deployed_at_ms) if v.deployed_at_ms else None,
            "state": v.state,
            "by": v.deployed_by or None,
            "images": dict(sorted(v.images.items())),
            "bundle": v.bundle_id,
            "rollback_of": v.rollback_of or None,
        }
        for v in versions
    ]


def history_table(versions: list[control_pb2.AppVersion], *, color: bool = False) -> list[str]:
    rows = [
        [
            f"v{v.version}",
            _time(v.deployed_at_ms) if v.deployed_at_ms else "-",
            v.state,
            v.deployed_by or "-",
            ",".join(sorted({image[:12] for image in v.images.values()})) or "-",
            f"rollback to v{v.rollback_of}" if v.rollback_of else "",
        ]
        for v in versions
    ]
    headers = ["VERSION", "DEPLOYED", "STATE", "BY", "IMAGE", "NOTE"]
    return output.table(headers, rows, right={0}, color_of=output.state_colors(2), color=color)


def print_history(versions: list[control_pb2.AppVersion], *, as_json: bool) -> None:
    if as_json:
        output.print_json(history_rows(versions))
        return
    for line in history_table(versions, color=output.color_enabled()):
        print(line)
