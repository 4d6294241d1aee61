"""Entry point: read config, connect to the bus, load routes, serve HTTP."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import uuid
from dataclasses import dataclass
from pathlib import Path

import uvicorn
from nats.aio.client import Client
from nats.aio.msg import Msg

from berth.v1 import bus_pb2
from services.common import bus, config, loop, service, subjects
from services.edge.app import Edge
from services.edge.proxy_auth import ProxyAuth
from services.edge.relay import Relay
from services.edge.routing import RouteTable

STARTUP_TIMEOUT = 30.0


@dataclass(frozen=True)
class EdgeConfig:
    nats_url: str
    nats_seed_file: str
    home: Path
    host: str
    port: int
    edge_id: str
    ready_file: str


def parse_config(argv: list[str] | None = None) -> EdgeConfig:
    parser = argparse.ArgumentParser(prog="berth-edge", description="Berth edge: the public HTTP port")
    config.common_flags(parser)
    parser.add_argument("--host", default=config.env_str("BERTH_EDGE_HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=config.env_int("BERTH_EDGE_PORT", 8000))
    parser.add_argument("--edge-id", default=config.env_str("BERTH_EDGE_ID", ""))
    parser.add_argument("--ready-file", default=config.env_str("BERTH_EDGE_READY_FILE", ""))
    args = parser.parse_args(argv)
    return EdgeConfig(
        nats_url=args.nats_url,
        nats_seed_file=args.nats_seed_file,
        home=Path(args.home),
        host=args.host,
        port=args.port,
        edge_id=args.edge_id or f"edge-{uuid.uuid4().hex[:8]}",
        ready_file=args.ready_file,
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
    relay = Relay(nc, cfg.edge_id)
    await relay.start()
    edge = Edge(nc, cfg.edge_id, routes, relay, proxy_auth=proxy_auth)

    async def on_control(msg: Msg) -> None:
        await edge.on_control(msg.data)

    await nc.subscribe(subjects.edge_control(cfg.edge_id), cb=on_control)
    await nc.flush(timeout=5)
    await _hello(cfg.edge_id, nc)

    sock = socket.socket(socket.AF_INET6 if ":" in cfg.host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((cfg.host, cfg.port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            edge,
            lifespan="off",
            log_level="warning",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=30,
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
    server.should_exit = True
    with contextlib.suppress(Exception):
        await asyncio.wait_for(serving, 10)
    await routes.stop()
    await proxy_auth.stop()


def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(argv)
    loop.run(run(cfg))
