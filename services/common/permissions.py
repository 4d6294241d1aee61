"""Who may publish and subscribe to what on the bus: the table the embedded nats-server enforces.

Least privilege by subject. Only the scheduler may write app state, secrets and tokens, order boots
and control edges; an agent receives only its own orders and its own containers' request streams;
the edge reads routes and proxy-auth tokens and talks to containers; the builder only reads the
(API) tokens bucket. Each identity's replies arrive on its own inbox prefix (`_INBOX_<identity>`,
see bus.connect), so no one can listen to another's replies. The README carries the same table for
operators.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from services.common import credentials, subjects

JS_API = "$JS.API"


@dataclass(frozen=True)
class Permissions:
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    # Lets a responder answer a request on the requester's inbox, once, without a standing grant.
    allow_responses: bool = False


def _read_bucket(stream: str) -> tuple[str, ...]:
    """JetStream API subjects for reading (get, watch) one KV bucket or object store."""
    return (
        f"{JS_API}.STREAM.NAMES",  # the object store finds its stream by subject; names only
        f"{JS_API}.STREAM.INFO.{stream}",
        f"{JS_API}.STREAM.MSG.GET.{stream}",
        f"{JS_API}.DIRECT.GET.{stream}",
        f"{JS_API}.DIRECT.GET.{stream}.>",
        f"{JS_API}.CONSUMER.CREATE.{stream}",
        f"{JS_API}.CONSUMER.CREATE.{stream}.>",
        f"{JS_API}.CONSUMER.DELETE.{stream}.>",
        f"{JS_API}.CONSUMER.INFO.{stream}.>",
        f"$JS.FC.{stream}.>",
    )


def _inbox(identity: str) -> str:
    return f"_INBOX_{identity}.>"


def _kv(bucket: str) -> str:
    return f"KV_{bucket}"


def _obj(bucket: str) -> str:
    return f"OBJ_{bucket}"


def for_identity(identity: str) -> Permissions:
    """The permissions of one identity (see services/common/credentials.py for the names)."""
    if identity == credentials.ADMIN:
        # Provisioning buckets and streams at first start; used by the launcher, never a service.
        return Permissions(publish=(">",), subscribe=(">",))
    if identity == credentials.SCHEDULER:
        return Permissions(
            publish=(
                subjects.agent_boot("*"),
                subjects.agent_stop("*"),
                subjects.edge_control("*"),
                f"{JS_API}.>",
                "$JS.FC.>",
                "$JS.ACK.>",
                *(f"$KV.{b}.>" for b in (subjects.KV_APPS, subjects.KV_ROUTES, subjects.KV_SECRETS)),
                f"$KV.{subjects.KV_TOKENS}.>",
                f"$KV.{subjects.KV_PROXY_AUTH}.>",
                f"$O.{subjects.OBJ_BUNDLES}.>",
            ),
            subscribe=(
                "berth.sched.>",
                subjects.AGENT_HEARTBEAT,
                subjects.CONTAINER_EXITED,
                _inbox(identity),
            ),
            allow_responses=True,
        )
    if identity == credentials.BUILDER:
        return Permissions(publish=_read_bucket(_kv(subjects.KV_TOKENS)), subscribe=(_inbox(identity),))
    if identity == credentials.EDGE:
        return Permissions(
            publish=(
                subjects.container_data("*", "*"),
                subjects.SCHED_DEMAND,
                subjects.SCHED_RELEASED,
                subjects.SCHED_EDGE_HELLO,
                # /metrics: a bearer token's verdict and the scheduler's series (services/edge/metrics.py).
                subjects.SCHED_TOKEN_CHECK,
                subjects.SCHED_METRICS,
                # The details of a request the platform failed, under its request id (`berth app logs`).
                subjects.LOG_SUBJECTS,
                *_read_bucket(_kv(subjects.KV_ROUTES)),
                # Proxy-auth records (salted hashes only) for functions with requires_proxy_auth.
                *_read_bucket(_kv(subjects.KV_PROXY_AUTH)),
                # Redirected calls' records: any edge may serve a follow-up (edge/call_records.py).
                f"$KV.{subjects.KV_CALL_RESULTS}.>",
                *_read_bucket(_kv(subjects.KV_CALL_RESULTS)),
                # Answers to function calls containers made, back to their agents.
                subjects.caller_reply_wildcard("*"),
            ),
            subscribe=(
                subjects.edge_response_wildcard("*"),
                subjects.edge_control("*"),
                # Function calls containers make, from their agents (edge/call_ingress.py).
                subjects.AGENT_CALLS_WILDCARD,
                subjects.call_stream_wildcard("*"),
                _inbox(identity),
            ),
        )
    if identity.startswith(credentials.AGENT_PREFIX):
        agent_id = identity.removeprefix(credentials.AGENT_PREFIX)
        return Permissions(
            publish=(
                subjects.AGENT_HEARTBEAT,
                subjects.CONTAINER_EXITED,
                subjects.edge_response_wildcard("*"),
                subjects.LOG_SUBJECTS,
                *_read_bucket(_obj(subjects.OBJ_BUNDLES)),
                # Function calls its containers make: only under its own id, so an edge knows
                # which agent (and so which container) called (agent/callers.py).
                subjects.agent_calls(agent_id),
                f"{subjects.agent_calls(agent_id)}.>",
            ),
            subscribe=(
                subjects.agent_boot(agent_id),
                subjects.agent_stop(agent_id),
                subjects.agent_data_wildcard(agent_id),
                subjects.caller_reply_wildcard(agent_id),
                _inbox(identity),
            ),
            allow_responses=True,
        )
    raise ValueError(f"no NATS permissions are defined for identity {identity!r}")


def _strings(values: tuple[str, ...]) -> str:
    # Quoted: the config language would read `$JS...` unquoted as a variable reference.
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def server_config(users: Mapping[str, str], *, max_payload: int, listen: str = "") -> str:
    """nats-server config: `users` maps identity -> public nkey. No user, no connection."""
    lines = [f"max_payload: {max_payload}"]
    if listen:
        lines.append(f"listen: {json.dumps(listen)}")
    lines.append("authorization {\n  users = [")
    for identity, key in sorted(users.items()):
        perms = for_identity(identity)
        lines.append(
            f"    {{ nkey: {json.dumps(key)}, permissions: {{"
            f" publish: {{ allow: {_strings(perms.publish)} }},"
            f" subscribe: {{ allow: {_strings(perms.subscribe)} }},"
            f" allow_responses: {'true' if perms.allow_responses else 'false'} }} }}"
        )
    lines.append("  ]\n}")
    return "\n".join(lines) + "\n"
