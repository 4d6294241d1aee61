"""`berth secret create|list|delete`. Values are sent once and never printed.

Values come from KEY=VALUE arguments, `--from-dotenv`/`--from-json` files or standard input
(secret_values.py), so they need not land in shell history.
"""

from __future__ import annotations

from typing import Any

import grpc

from berth.cli import output
from berth.cli.client import Api, translate
from berth.cli.output import iso_time
from berth.v1 import control_pb2


def create(api: Api, name: str, values: dict[str, str], *, force: bool) -> None:
    request = control_pb2.CreateSecretRequest(name=name, values=values, force=force)
    try:
        api.control.CreateSecret(request, metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def list_secrets(api: Api) -> list[control_pb2.SecretSummary]:
    try:
        return list(api.control.ListSecrets(control_pb2.ListSecretsRequest(), metadata=api.metadata).secrets)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def secret_rows(secrets: list[control_pb2.SecretSummary]) -> list[dict[str, Any]]:
    """What `--json` prints: names, creation and keys; never values."""
    return [{"name": s.name, "created": iso_time(s.created_at_ms), "keys": list(s.keys)} for s in secrets]


def print_secrets(secrets: list[control_pb2.SecretSummary], *, as_json: bool = False) -> None:
    if as_json:
        output.print_json(secret_rows(secrets))
        return
    if not secrets:
        print("no secrets")
        return
    rows = [[s.name, iso_time(s.created_at_ms) or "-", ", ".join(s.keys)] for s in secrets]
    output.print_table(["NAME", "CREATED", "KEYS"], rows)


def delete(api: Api, name: str) -> None:
    try:
        api.control.DeleteSecret(control_pb2.DeleteSecretRequest(name=name), metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None
