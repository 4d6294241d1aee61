"""`berth proxy-auth create|list|revoke`: tokens for functions deployed with
`requires_proxy_auth=True`. A token's secret is printed once, when created, and never again."""

from __future__ import annotations

import json
import sys

import grpc

from berth.cli import output
from berth.cli.client import Api, translate
from berth.cli.output import iso_time
from berth.v1 import control_pb2


def create(api: Api, name: str) -> control_pb2.CreateProxyAuthTokenResponse:
    try:
        return api.control.CreateProxyAuthToken(
            control_pb2.CreateProxyAuthTokenRequest(name=name), metadata=api.metadata
        )
    except grpc.RpcError as exc:
        raise translate(exc) from None


def print_created(created: control_pb2.CreateProxyAuthTokenResponse, *, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"key": created.key, "secret": created.secret}))
    else:
        print(f"key: {created.key}")
        print(f"secret: {created.secret}", flush=True)
    print(
        f"created proxy-auth token {created.key}{f' ({created.name})' if created.name else ''}; send "
        "them as the Berth-Key and Berth-Secret headers (or Modal-Key and Modal-Secret). Copy the "
        "secret now, it will not be shown again",
        file=sys.stderr,
    )


def list_tokens(api: Api) -> list[control_pb2.ProxyAuthTokenSummary]:
    try:
        response = api.control.ListProxyAuthTokens(
            control_pb2.ListProxyAuthTokensRequest(), metadata=api.metadata
        )
    except grpc.RpcError as exc:
        raise translate(exc) from None
    return list(response.tokens)


def print_tokens(tokens: list[control_pb2.ProxyAuthTokenSummary], *, as_json: bool) -> None:
    if as_json:
        rows = [{"key": t.key, "name": t.name, "created": iso_time(t.created_at_ms)} for t in tokens]
        output.print_json(rows)
        return
    if not tokens:
        print("no proxy-auth tokens")
        return
    table = [[t.key, t.name or "-", iso_time(t.created_at_ms) or "-"] for t in tokens]
    output.print_table(["KEY", "NAME", "CREATED"], table)


def revoke(api: Api, key: str) -> None:
    try:
        api.control.RevokeProxyAuthToken(
            control_pb2.RevokeProxyAuthTokenRequest(key=key), metadata=api.metadata
        )
    except grpc.RpcError as exc:
        raise translate(exc) from None
