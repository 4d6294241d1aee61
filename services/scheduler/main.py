"""Entry point: read config, connect to the bus, serve the deploy API and schedule containers."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path

import grpc
from nats.aio.client import Client
from nats.aio.msg import Msg
from opentelemetry import context as otel_context

from berth.v1 import bus_pb2, control_pb2_grpc, spec_pb2
from services.common import auth, bus, config, loop, provision, service, subjects, tls, tracing
from services.scheduler import metrics, urls
from services.scheduler.agents import Agents
from services.scheduler.api import ControlService, UrlConfig
from services.scheduler.assignment import Assigner
from services.scheduler.builds import BuilderClient
from services.scheduler.containers import ContainerAges
from services.scheduler.pools import DEFAULT_MAX_PARAMETER_SETS
from services.scheduler.proxy_auth import ProxyAuthStore
from services.scheduler.secrets import SecretStore, parse_key
from services.scheduler.state import AppStore
from services.scheduler.tokens import TokenStore

TICK_SECONDS = 1.0


@dataclass(frozen=True)
class SchedulerConfig:
    nats_url: str
    nats_seed_file: str
    home: Path
    listen: str
    builder: str
    token: str
    token_key_file: str
    runtime: str
    workspace: str
    domain: str
    edge_port: int
    ready_file: str
    secret_key: str
    tls_cert: str
    tls_key: str
    max_parameter_sets: int = DEFAULT_MAX_PARAMETER_SETS
    metrics_port: int = 0  # 0: no metrics port (services/common/metrics.py)
    metrics_host: str = "127.0.0.1"


def parse_config(argv: list[str] | None = None) -> SchedulerConfig:
    parser = argparse.ArgumentParser(prog="berth-scheduler", description="Berth scheduler and deploy API")
    config.common_flags(parser)
    parser.add_argument("--listen", default=config.env_str("BERTH_SCHEDULER_LISTEN", "127.0.0.1:0"))
    parser.add_argument("--builder", default=config.env_str("BERTH_BUILDER_ADDR", ""), required=False)
    parser.add_argument("--runtime", default=config.env_str("BERTH_RUNTIME", "process"))
    parser.add_argument("--workspace", default=config.env_str("BERTH_WORKSPACE", "local"))
    parser.add_argument("--domain", default=config.env_str("BERTH_DOMAIN", "localhost"))
    parser.add_argument("--edge-port", type=int, default=config.env_int("BERTH_EDGE_PORT", 8000))
    parser.add_argument(
        "--secret-key-file",
        default=config.env_str("BERTH_SECRET_KEY_FILE", ""),
        help="the key secrets are encrypted with, 64 hex digits (env BERTH_SECRET_KEY_FILE, "
        "else BERTH_SECRET_KEY)",
    )
    parser.add_argument("--ready-file", default=config.env_str("BERTH_SCHEDULER_READY_FILE", ""))
    parser.add_argument(
        "--tls-cert", default=config.env_str("BERTH_TLS_CERT", ""), help="PEM: serve the API over TLS"
    )
    parser.add_argument("--tls-key", default=config.env_str("BERTH_TLS_KEY", ""), help="its PEM key")
    parser.add_argument(
        "--token-key-file",
        default=config.env_str("BERTH_TOKEN_KEY_FILE", ""),
        help="the key API token records are signed with, 64 hex digits (env BERTH_TOKEN_KEY_FILE)",
    )
    parser.add_argument(
        "--token-file",
        default=config.env_str("BERTH_TOKEN_FILE", ""),
        help="the bootstrap API token, made valid at start (env BERTH_TOKEN_FILE, else BERTH_TOKEN)",
    )
    parser.add_argument(
        "--max-parameter-sets",
        type=int,
        default=config.env_int("BERTH_MAX_PARAMETER_SETS", DEFAULT_MAX_PARAMETER_SETS),
        help="live container pools (distinct parameter sets) per function of a parametrized class; "
        f"a new set beyond is a 429; 0: no cap (env BERTH_MAX_PARAMETER_SETS, default "
        f"{DEFAULT_MAX_PARAMETER_SETS})",
    )
    metrics.add_flags(parser, "scheduler")
    args = parser.parse_args(argv)
    if args.max_parameter_sets < 0:
        parser.error("--max-parameter-sets cannot be negative (0 turns the cap off)")
    if not args.builder:
        parser.error("--builder (or BERTH_BUILDER_ADDR) is required")
    secret_key = config.secret_value(
        parser, args.secret_key_file, "BERTH_SECRET_KEY", "the secret key (32 bytes as 64 hex digits)"
    )
    try:
        auth.load_server_key(args.token_key_file)
    except ValueError as exc:
        parser.error(str(exc))
    # The operator's token: the scheduler makes it valid at start and calls the builder with it.
    token = config.secret_value(parser, args.token_file, "BERTH_TOKEN", "a bootstrap API token")
    return SchedulerConfig(
        nats_url=args.nats_url,
        nats_seed_file=args.nats_seed_file,
        home=Path(args.home),
        listen=args.listen,
        builder=args.builder,
        token=token,
        token_key_file=args.token_key_file,
        runtime=args.runtime,
        workspace=args.workspace,
        domain=args.domain,
        edge_port=args.edge_port,
        ready_file=args.ready_file,
        secret_key=secret_key,
        tls_cert=args.tls_cert,
        tls_key=args.tls_key,
        max_parameter_sets=args.max_parameter_sets,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
    )


async def run(cfg: SchedulerConfig) -> None:
    async with service.running("scheduler", cfg) as svc:
        await serve(cfg, svc)


async def serve(cfg: SchedulerConfig, svc: service.Service) -> None:
    nc = svc.nc
    js = nc.jetstream()
    await provision.ensure_state(js)
    store = AppStore(await bus.key_value(js, subjects.KV_APPS), await bus.key_value(js, subjects.KV_ROUTES))
    await store.load()
    bundles = await bus.object_store(js, subjects.OBJ_BUNDLES)
    tokens = TokenStore(await bus.key_value(js, subjects.KV_TOKENS), auth.load_server_key(cfg.token_key_file))
    bootstrap_name = await tokens.ensure_bootstrap(cfg.token)
    secrets = SecretStore(await bus.key_value(js, subjects.KV_SECRETS), parse_key(cfg.secret_key))
    proxy_auth = ProxyAuthStore(
        await bus.key_value(js, subjects.KV_PROXY_AUTH), urls.normalize(cfg.workspace)
    )

    async def resolve_env(function: spec_pb2.FunctionSpec) -> dict[str, str]:
        env: dict[str, str] = {}
        for name in function.secret_names:
            env.update(await secrets.values(name))
        env.update(function.env)
        return env

    assigner = Assigner(nc, store, Agents(), resolve_env, max_parameter_sets=cfg.max_parameter_sets)
    builder = BuilderClient(cfg.builder, cfg.token)
    for record in store.records.values():
        assigner.warm(record)
    await _subscribe(nc, assigner)
    metrics.watch(assigner.pools)
    await metrics.answer_edges(nc, tokens.verifier)
    metrics_server = await metrics.serve(metrics.registry(), "scheduler", cfg.metrics_host, cfg.metrics_port)
    ages = ContainerAges()  # `berth container list` shows how long each has run
    await ages.watch(nc)

    server = grpc.aio.server(interceptors=[auth.AuthInterceptor(tokens.verifier)])
    control_pb2_grpc.add_ControlServicer_to_server(
        ControlService(
            store,
            assigner,
            builder,
            bundles,
            js,
            UrlConfig(workspace=cfg.workspace, domain=cfg.domain, port=cfg.edge_port),
            cfg.runtime,
            secrets,
            tokens,
            proxy_auth,
            container_ages=ages,
        ),
        server,
    )
    credentials = tls.server_credentials(cfg.tls_cert, cfg.tls_key)
    if credentials is None:
        port = server.add_insecure_port(cfg.listen)
    else:
        port = server.add_secure_port(cfg.listen, credentials)
    if port == 0:
        raise SystemExit(f"cannot listen on {cfg.listen}")
    await server.start()
    address = f"{cfg.listen.rsplit(':', 1)[0]}:{port}"
    print(f"scheduler listening on {address} (bootstrap token: {bootstrap_name})", flush=True)
    svc.ready(address)

    async def autoscale() -> None:
        while True:
            await asyncio.sleep(TICK_SECONDS)
            assigner.tick()

    ticker = asyncio.create_task(autoscale())
    await svc.stopped()
    ticker.cancel()
    await server.stop(grace=2)
    await builder.close()
    if metrics_server is not None:
        await metrics_server.close()


async def _subscribe(nc: Client, assigner: Assigner) -> None:
    """The scheduler's side of the bus: demand and releases from edges, heartbeats and exits from
    agents. Each handler joins the trace of the message that caused it."""

    async def traced(msg: Msg, handler: Awaitable[None]) -> None:
        token = otel_context.attach(tracing.extract(msg.headers))
        try:
            await handler
        finally:
            otel_context.detach(token)

    async def on_demand(msg: Msg) -> None:
        await msg.respond(bus_pb2.Empty().SerializeToString())
        await traced(msg, assigner.on_demand(bus_pb2.Demand.FromString(msg.data)))

    async def on_released(msg: Msg) -> None:
        await assigner.on_released(bus_pb2.LeaseReleased.FromString(msg.data))

    async def on_edge_hello(msg: Msg) -> None:
        await assigner.on_edge_hello(bus_pb2.EdgeHello.FromString(msg.data))
        await msg.respond(bus_pb2.Empty().SerializeToString())

    async def on_heartbeat(msg: Msg) -> None:
        assigner.on_heartbeat(bus_pb2.AgentHeartbeat.FromString(msg.data))

    async def on_exited(msg: Msg) -> None:
        await assigner.on_exited(bus_pb2.ContainerExited.FromString(msg.data))

    await nc.subscribe(subjects.SCHED_DEMAND, cb=on_demand)
    await nc.subscribe(subjects.SCHED_RELEASED, cb=on_released)
    await nc.subscribe(subjects.SCHED_EDGE_HELLO, cb=on_edge_hello)
    await nc.subscribe(subjects.AGENT_HEARTBEAT, cb=on_heartbeat)
    await nc.subscribe(subjects.CONTAINER_EXITED, cb=on_exited)
    await nc.flush(timeout=5)


def main(argv: list[str] | None = None) -> None:
    loop.run(run(parse_config(argv)))
