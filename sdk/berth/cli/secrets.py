"""`berth secret create|list|delete`. Values are sent once and never printed."""

from __future__ import annotations

import datetime

import grpc

from berth._errors import InvalidError
from berth.cli.client import Api, translate
from berth.v1 import control_pb2


def parse_pairs(pairs: list[str]) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidError(f"{pair.split('=', 1)[0]!r} is not KEY=VALUE")
        values[key] = value
    if not values:
        raise InvalidError("give at least one KEY=VALUE")
    return values


def create(api: Api, name: str, pairs: list[str], *, force: bool) -> None:
    request = control_pb2.CreateSecretRequest(name=name, values=parse_pairs(pairs), force=force)
    try:
        api.control.CreateSecret(request, metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def list_secrets(api: Api) -> list[control_pb2.SecretSummary]:
    try:
        return list(api.control.ListSecrets(control_pb2.ListSecretsRequest(), metadata=api.metadata).secrets)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def print_secrets(secrets: list[control_pb2.SecretSummary]) -> None:
    if not secrets:
        print("no secrets")
        return
    print(f"{'NAME':32} {'CREATED':20} KEYS")
    for secret in secrets:
        created = datetime.datetime.fromtimestamp(secret.created_at_ms / 1000).isoformat(timespec="seconds")
        print(f"{secret.name:32} {created:20} {', '.join(secret.keys)}")


def delete(api: Api, name: str) -> None:
    try:
        api.control.DeleteSecret(control_pb2.DeleteSecretRequest(name=name), metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None
