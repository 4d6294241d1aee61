"""Entry point: read config, connect to the bus, load routes, serve HTTP."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn
from nats.aio.client import Client
from nats.aio.msg import Msg

from berth.v1 import bus_pb2
from services.common import bus, config, loop, metrics, service, subjects
from services.edge import redirects
from services.edge.app import Edge
from services.edge.call_api import CONTAINER_CALLS, CONTAINER_CALLS_OWN_APP
from services.edge.call_ingress import CallIngress
from services.edge.dashboard import Api, Dashboard, Sampler
from services.edge.limits import EdgeLimits, fit_to_descriptors, protocols
from services.edge.metrics import EdgeMetrics, SchedulerLink
from services.edge.proxy_auth import ProxyAuth
from services.edge.ratelimit import RateLimiter
from services.edge.redirects import RedirectSettings, start_redirects
from services.edge.relay import Relay
from services.edge.routing import RouteTable

STARTUP_TIMEOUT = 30.0
DEFAULT_API = "127.0.0.1:7100"  # where the compose file publishes it; `berth up` passes its own


@dataclass(frozen=True)
class EdgeConfig:
    nats_url: str
    nats_seed_file: str
    home: Path
    host: str
    port: int
    edge_id: str
    ready_file: str
    rate_limit: float = 0.0  # requests per second per workspace; 0: no limit
    limits: EdgeLimits = field(default_factory=EdgeLimits)
    redirects: RedirectSettings = field(default_factory=RedirectSettings)  # requests past 150 s: a 303
    listen_fd: int = -1  # a listening socket inherited from `berth up`, which keeps it across restarts
    metrics_port: int = 0  # 0: /metrics on the bare host only (services/edge/metrics.py)
    metrics_host: str = "127.0.0.1"
    api: str = DEFAULT_API  # the deploy API the dashboard calls with each user's token
    api_ca_file: str = ""  # PEM the API's TLS certificate is checked against; "": plaintext
    container_calls: str = CONTAINER_CALLS_OWN_APP  # may a container call other apps (call_api.py)?


def _rate(text: str) -> float:
    try:
        value = float(text or 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of requests per second") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a rate limit cannot be negative")
    return value


def parse_config(argv: list[str] | None = None) -> EdgeConfig:
    parser = argparse.ArgumentParser(prog="berth-edge", description="Berth edge: the public HTTP port")
    config.common_flags(parser)
    parser.add_argument("--host", default=config.env_str("BERTH_EDGE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=config.env_int("BERTH_EDGE_PORT", 8000))
    parser.add_argument("--edge-id", default=config.env_str("BERTH_EDGE_ID", ""))
    parser.add_argument("--ready-file", default=config.env_str("BERTH_EDGE_READY_FILE", ""))
    parser.add_argument(
        "--listen-fd",
        type=int,
        default=-1,
        help="serve on this inherited listening socket instead of binding --host/--port",
    )
    defaults = EdgeLimits()
    parser.add_argument(
        "--rate-limit",
        type=_rate,
        default=config.env_str("BERTH_RATE_LIMIT", "0"),
        help="requests per second per workspace, bursts of 5 s worth; 0: off (env BERTH_RATE_LIMIT)",
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=config.env_str("BERTH_EDGE_HEADER_TIMEOUT", str(defaults.header_timeout)),
        help="seconds a request head may take to arrive (env BERTH_EDGE_HEADER_TIMEOUT)",
    )
    parser.add_argument(
        "--body-timeout",
        type=float,
        default=config.env_str("BERTH_EDGE_BODY_TIMEOUT", str(defaults.body_timeout)),
        help="seconds a request body may send nothing while more is due: 408 (env BERTH_EDGE_BODY_TIMEOUT)",
    )
    parser.add_argument(
        "--keep-alive-timeout",
        type=int,
        default=config.env_int("BERTH_EDGE_KEEP_ALIVE_TIMEOUT", defaults.keep_alive_timeout),
        help="seconds an idle keep-alive connection stays open (env BERTH_EDGE_KEEP_ALIVE_TIMEOUT)",
    )
    parser.add_argument(
        "--max-connections",
        type=int,
        default=config.env_int("BERTH_EDGE_MAX_CONNECTIONS", defaults.max_connections),
        help="open connections this edge accepts (env BERTH_EDGE_MAX_CONNECTIONS)",
    )
    parser.add_argument(
        "--max-connections-per-ip",
        type=int,
        default=config.env_int("BERTH_EDGE_MAX_CONNECTIONS_PER_IP", defaults.max_connections_per_ip),
        help="open connections per client address; 0: no cap (env BERTH_EDGE_MAX_CONNECTIONS_PER_IP)",
    )
    parser.add_argument(
        "--api",
        default=config.env_str("BERTH_API", DEFAULT_API),
        help="the deploy API (HOST:PORT) the dashboard at /dashboard/ calls with each user's token "
        f"(env BERTH_API, default {DEFAULT_API})",
    )
    parser.add_argument(
        "--api-ca-file",
        default=config.env_str("BERTH_API_CA_FILE", ""),
        help="PEM CA to check the API's TLS certificate against, when the API serves TLS "
        "(env BERTH_API_CA_FILE; default: plaintext)",
    )
    parser.add_argument(
        "--container-calls",
        choices=CONTAINER_CALLS,
        default=config.env_str("BERTH_CONTAINER_CALLS", CONTAINER_CALLS_OWN_APP),
        help="which functions a container's code may call without a token: its own app's (own-app), "
        "or any app's (any: tenants' code may then run code in other apps' containers) "
        "(env BERTH_CONTAINER_CALLS; default own-app)",
    )
    redirects.add_flags(parser)
    metrics.add_flags(parser, "edge")
    args = parser.parse_args(argv)
    limits = EdgeLimits(
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        keep_alive_timeout=args.keep_alive_timeout,
        max_connections=args.max_connections,
        max_connections_per_ip=args.max_connections_per_ip,
    )
    if (args.edge_id or "").startswith("_") or "." in (args.edge_id or ""):
        parser.error(f"--edge-id {args.edge_id!r}: may not start with '_' or contain '.'")
    return EdgeConfig(
        nats_url=args.nats_url,
        nats_seed_file=args.nats_seed_file,
        home=Path(args.home),
        host=args.host,
        port=args.port,
        edge_id=args.edge_id or f"edge-{uuid.uuid4().hex[:8]}",
        ready_file=args.ready_file,
        rate_limit=args.rate_limit,
        limits=limits,
        redirects=redirects.settings_from(args),
        listen_fd=args.listen_fd,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        api=args.api,
        api_ca_file=args.api_ca_file,
        container_calls=args.container_calls,
    )


async def _hello(edge_id: str, nc: Client) -> None:
    """Waits for the scheduler to acknowledge this edge, so /healthz means the platform answers."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STARTUP_TIMEOUT
    while True:
        try:
            await bus.request(
                nc, subjects.SCHED_EDGE_HELLO, bus_pb2.EdgeHello(edge_id=edge_id), bus_pb2.Empty, timeout=1.0
            )
            return
        except Exception:  # noqa: BLE001 - no responder yet: the scheduler is still starting
            if loop.time() > deadline:
                raise SystemExit(f"the scheduler did not answer within {STARTUP_TIMEOUT:.0f}s") from None
            await asyncio.sleep(0.2)


async def run(cfg: EdgeConfig) -> None:
    async with service.running("edge", cfg, bus_name=cfg.edge_id) as svc:
        await serve(cfg, svc)


async def serve(cfg: EdgeConfig, svc: service.Service) -> None:
    nc = svc.nc
    routes = RouteTable(await bus.key_value(nc.jetstream(), subjects.KV_ROUTES))
    await routes.start()
    await asyncio.wait_for(routes.synced.wait(), STARTUP_TIMEOUT)
    proxy_auth = ProxyAuth(await bus.key_value(nc.jetstream(), subjects.KV_PROXY_AUTH))
    await proxy_auth.start()
    await asyncio.wait_for(proxy_auth.synced.wait(), STARTUP_TIMEOUT)
    relay = Relay(nc, cfg.edge_id, body_timeout=cfg.limits.body_timeout)
    await relay.start()
    rate_limit = RateLimiter(cfg.rate_limit) if cfg.rate_limit > 0 else None
    calls = await start_redirects(nc, cfg.edge_id, cfg.redirects)
    registry = metrics.registry()
    link = SchedulerLink(nc)
    observed = EdgeMetrics(registry, token_check=link.check_token, scheduler_series=link.series)
    dashboard = Dashboard(Api(cfg.api, cfg.api_ca_file), Sampler(registry, link.series))
    edge = Edge(
        nc, cfg.edge_id, routes, relay, proxy_auth=proxy_auth, rate_limit=rate_limit, redirects=calls,
        metrics=observed, dashboard=dashboard, token_check=link.check_token,
        container_calls=cfg.container_calls,
    )
    callers = CallIngress(nc, cfg.edge_id, edge.call_from_container)  # calls containers make
    await callers.start()
    metrics_server = await metrics.serve(registry, "edge", cfg.metrics_host, cfg.metrics_port)

    async def on_control(msg: Msg) -> None:
        await edge.on_control(msg.data)

    await nc.subscribe(subjects.edge_control(cfg.edge_id), cb=on_control)
    await nc.subscribe(subjects.edge_control(subjects.EVERY_EDGE), cb=on_control)
    await nc.flush(timeout=5)
    await _hello(cfg.edge_id, nc)

    if cfg.listen_fd >= 0:
        # `berth up` holds the socket across edge restarts: connections wait in its backlog.
        sock = socket.socket(fileno=cfg.listen_fd)
    else:
        sock = socket.socket(socket.AF_INET6 if ":" in cfg.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((cfg.host, cfg.port))
    port = sock.getsockname()[1]
    # httptools (C) with the edge's limits added (services/edge/limits.py): h11 bounds header size
    # on its own but costs a warm request ~2x the parsing time, and lacks the rest all the same.
    limits = fit_to_descriptors(cfg.limits)
    http_protocol, ws_protocol = protocols(limits)
    server = uvicorn.Server(
        uvicorn.Config(
            edge,
            http=http_protocol,
            ws=ws_protocol,
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=limits.keep_alive_timeout,
            # The guide: messages up to 2 MiB, and no permessage-deflate (RFC 7692).
            ws_max_size=2 * 1024 * 1024 + 1024,
            ws_per_message_deflate=False,
        )
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()
            raise SystemExit("the HTTP server stopped during start-up")
        await asyncio.sleep(0.01)
    edge.ready = True
    print(f"edge listening on http://{cfg.host}:{port}", flush=True)
    svc.ready(f"{cfg.host}:{port}")

    stopping = asyncio.create_task(svc.stopped())
    await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    await dashboard.stop()  # ends its event streams, which would hold the server open
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(serving, 10)
    await callers.stop()
    await edge.calls.stop()
    await edge.access_log.close()  # the last requests' access lines, before the bus closes
    await routes.stop()
    await proxy_auth.stop()
    await calls.stop()
    if metrics_server is not None:
        await metrics_server.close()


def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(argv)
    loop.run(run(cfg))
