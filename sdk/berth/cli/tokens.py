"""`berth token create|list|revoke`. A token is printed once, when created, and never again."""

from __future__ import annotations

import sys

import grpc

from berth.cli import output
from berth.cli.client import Api, translate
from berth.cli.output import iso_time
from berth.v1 import control_pb2


def create(api: Api, name: str) -> str:
    try:
        response = api.control.CreateToken(control_pb2.CreateTokenRequest(name=name), metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None
    return str(response.token)


def print_created(name: str, token: str) -> None:
    # The token alone on stdout, so `TOKEN=$(berth token create ci)` captures exactly it.
    print(token, flush=True)
    print(f"created token {name}; copy it now, it will not be shown again", file=sys.stderr)


def list_tokens(api: Api) -> list[control_pb2.TokenSummary]:
    try:
        return list(api.control.ListTokens(control_pb2.ListTokensRequest(), metadata=api.metadata).tokens)
    except grpc.RpcError as exc:
        raise translate(exc) from None


def print_tokens(tokens: list[control_pb2.TokenSummary], *, as_json: bool) -> None:
    if as_json:
        rows = [
            {"name": t.name, "created": iso_time(t.created_at_ms), "last_used": iso_time(t.last_used_ms)}
            for t in tokens
        ]
        output.print_json(rows)
        return
    if not tokens:
        print("no tokens")
        return
    table = [[t.name, iso_time(t.created_at_ms) or "-", iso_time(t.last_used_ms) or "never"] for t in tokens]
    output.print_table(["NAME", "CREATED", "LAST USED"], table)


def revoke(api: Api, name: str) -> None:
    try:
        api.control.RevokeToken(control_pb2.RevokeTokenRequest(name=name), metadata=api.metadata)
    except grpc.RpcError as exc:
        raise translate(exc) from None
