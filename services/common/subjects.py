"""Every NATS subject Berth uses, in one place. Payloads are messages from protos/berth/v1:
bus.proto (control plane), stream.proto (request frames), state.proto (KV records)."""

from __future__ import annotations

# Agents.
AGENT_HEARTBEAT = "berth.agent.heartbeat"  # AgentHeartbeat, every second
CONTAINER_EXITED = "berth.agent.exited"  # ContainerExited


def agent_boot(agent_id: str) -> str:
    """BootOrder -> BootResult (request/reply)."""
    return f"berth.agent.{agent_id}.boot"


def agent_stop(agent_id: str) -> str:
    """StopOrder -> StopResult (request/reply)."""
    return f"berth.agent.{agent_id}.stop"


def container_data(agent_id: str, container_id: str) -> str:
    """Request frames for one container; the agent subscribes to all of its own with a wildcard."""
    return f"berth.ctr.{agent_id}.{container_id}"


def agent_data_wildcard(agent_id: str) -> str:
    return f"berth.ctr.{agent_id}.*"


# Edges <-> scheduler.
SCHED_DEMAND = "berth.sched.demand"  # Demand -> Empty (request/reply)
SCHED_RELEASED = "berth.sched.released"  # LeaseReleased
SCHED_EDGE_HELLO = "berth.sched.edge-hello"  # EdgeHello
SCHED_TOKEN_CHECK = "berth.sched.token-check"  # TokenCheck -> TokenVerdict (an edge's /metrics)
SCHED_METRICS = "berth.sched.metrics"  # Empty -> MetricsSnapshot (folded into an edge's /metrics)


def edge_control(edge_id: str) -> str:
    """EdgeControl messages from the scheduler to one edge."""
    return f"berth.edge.{edge_id}.ctl"


# Every edge listens here too (an edge id never starts with "_": services/edge/main.py).
EVERY_EDGE = "_every"


def edge_response(edge_id: str, stream_id: int) -> str:
    """Reply subject of one request stream: response frames for it come back here."""
    return f"berth.resp.{edge_id}.{stream_id}"


def edge_response_wildcard(edge_id: str) -> str:
    return f"berth.resp.{edge_id}.*"


# Function calls a container makes (services/agent/callers.py <-> services/edge/call_ingress.py):
# the stream a container opened goes to any edge, then stays with the edge that took it. Only
# agent <agent_id> may publish under berth.call.<agent_id>, so the subject names the calling agent.
CALL_EDGES = "berth-edges"  # the queue group edges take new calls in


def agent_calls(agent_id: str) -> str:
    """The head of a stream a container of `agent_id` opened (reply: its caller_reply subject)."""
    return f"berth.call.{agent_id}"


AGENT_CALLS_WILDCARD = "berth.call.*"


def call_stream(agent_id: str, edge_id: str, stream_id: int) -> str:
    """The rest of one such stream, to the edge that took it (the edge names it as its reply)."""
    return f"berth.call.{agent_id}.{edge_id}.{stream_id}"


def call_stream_wildcard(edge_id: str) -> str:
    return f"berth.call.*.{edge_id}.*"


def caller_reply(agent_id: str, container_id: str, stream_id: int) -> str:
    """Where the edge answers a call container `container_id` made on its stream `stream_id`."""
    return f"berth.caller.{agent_id}.{container_id}.{stream_id}"


def caller_reply_wildcard(agent_id: str) -> str:
    return f"berth.caller.{agent_id}.>"


# Container output, kept in a JetStream stream so `berth app logs` can read history.
LOG_STREAM = "BERTH_LOGS"


def app_key(name: str, ephemeral: bool) -> str:
    """How the platform names an app: deployed and served (`berth serve`) apps of one name coexist."""
    return f"{'dev' if ephemeral else 'live'}.{name}"


def app_logs(app_key: str) -> str:
    return f"berth.logs.{app_key}"


LOG_SUBJECTS = "berth.logs.>"

# JetStream key-value buckets and object stores.
KV_APPS = "berth-apps"  # app key ("live.<name>" or "dev.<name>") -> AppRecord
KV_ROUTES = "berth-routes"  # host label -> Route
KV_SECRETS = "berth-secrets"  # secret name -> SecretRecord (encrypted)
KV_TOKENS = "berth-tokens"  # sha256(token) -> TokenRecord
KV_PROXY_AUTH = "berth-proxy-auth"  # proxy-auth token key ("wk-...") -> ProxyAuthTokenRecord
KV_CALL_RESULTS = "berth-call-results"  # redirected call id -> CallRecord (edges; in memory, TTL)
OBJ_BUNDLES = "berth-bundles"  # bundle id -> zip of the app's sources
