"""Entry point of the builder: reads config, wires dependencies, serves gRPC until SIGTERM/SIGINT."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path

import grpc

from berth.v1 import build_pb2_grpc
from services.builder.api import BuilderServicer, BuildParams
from services.builder.docker_build import DockerBuilder
from services.builder.process_build import ProcessBuilder
from services.builder.runtime_layer import RuntimeLayers
from services.builder.sandbox import Sandbox
from services.common import auth, bus, config, metrics, service, subjects, tracing

GRACE_SECONDS = 5.0


@dataclass(frozen=True)
class BuilderConfig:
    nats_url: str
    nats_seed_file: str
    home: Path
    listen: str
    ready_file: str
    build_timeout: int
    token_key_file: str
    metrics_port: int = 0  # 0: no metrics port (services/common/metrics.py)
    metrics_host: str = "127.0.0.1"


def parse(argv: list[str] | None = None) -> BuilderConfig:
    parser = argparse.ArgumentParser(prog="berth-builder", description="Berth image builder (gRPC)")
    config.common_flags(parser)
    parser.add_argument(
        "--listen",
        default=config.env_str("BERTH_BUILDER_LISTEN", "127.0.0.1:0"),
        help="gRPC address; port 0 lets the OS pick (env BERTH_BUILDER_LISTEN)",
    )
    parser.add_argument(
        "--ready-file",
        default=config.env_str("BERTH_BUILDER_READY_FILE", ""),
        help="once listening, write the actual host:port here (env BERTH_BUILDER_READY_FILE)",
    )
    parser.add_argument(
        "--token-key-file",
        default=config.env_str("BERTH_TOKEN_KEY_FILE", ""),
        help="the key API token records are signed with, to check callers (env BERTH_TOKEN_KEY_FILE)",
    )
    metrics.add_flags(parser, "builder")
    args = parser.parse_args(argv)
    try:
        auth.load_server_key(args.token_key_file)
    except ValueError as exc:
        parser.error(str(exc))
    timeout = config.env_int("BERTH_BUILD_TIMEOUT", 900)
    if timeout <= 0:
        raise SystemExit(f"BERTH_BUILD_TIMEOUT={timeout} must be positive")
    return BuilderConfig(
        nats_url=args.nats_url,
        nats_seed_file=args.nats_seed_file,
        home=Path(args.home).expanduser().resolve(),
        listen=args.listen,
        ready_file=args.ready_file,
        build_timeout=timeout,
        token_key_file=args.token_key_file,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
    )


def bound_address(listen: str, port: int) -> str:
    host = listen.rsplit(":", 1)[0] if ":" in listen else listen
    return f"{host}:{port}"


async def run(cfg: BuilderConfig) -> None:
    async with service.running("builder", cfg) as svc:
        await serve(cfg, svc)


async def serve(cfg: BuilderConfig, svc: service.Service) -> None:
    tokens = await bus.key_value(svc.nc.jetstream(), subjects.KV_TOKENS)
    # Build steps run tenant code: sandboxed, never seeing this process's files or secrets.
    sandbox = Sandbox(cfg.home, hidden=[cfg.nats_seed_file, cfg.token_key_file])
    # Probes the isolation this host allows and logs it once; starts the egress proxy builds
    # reach package indexes through (and, as root, the firewall that makes it their only way out).
    await sandbox.prepare()
    layers = RuntimeLayers(cfg.home, sandbox)
    servicer = BuilderServicer(
        process=ProcessBuilder(cfg.home, layers, sandbox),
        params=BuildParams(timeout=float(cfg.build_timeout)),
        tracer=tracing.setup("builder"),
        docker=DockerBuilder(cfg.home, sandbox=sandbox),
    )
    # Reads the tokens bucket only; issuing, revoking and last-use bookkeeping are the scheduler's.
    verifier = auth.TokenVerifier(tokens, auth.load_server_key(cfg.token_key_file))
    server = grpc.aio.server(interceptors=[auth.AuthInterceptor(verifier)])
    build_pb2_grpc.add_BuilderServicer_to_server(servicer, server)
    port = server.add_insecure_port(cfg.listen)
    if port == 0:
        raise SystemExit(f"builder cannot listen on {cfg.listen}")
    await server.start()
    address = bound_address(cfg.listen, port)
    print(f"builder listening on {address}", flush=True)
    metrics_server = await metrics.serve(metrics.registry(), "builder", cfg.metrics_host, cfg.metrics_port)
    svc.ready(address)
    await svc.stopped()
    if metrics_server is not None:
        await metrics_server.close()
    await server.stop(GRACE_SECONDS)  # in-flight builds are cancelled; their uv processes killed
    await sandbox.close()  # the egress proxy, and this builder's firewall rules


def main(argv: list[str] | None = None) -> None:
    cfg = parse(argv)
    # Not on uvloop (services.common.loop): uv run as its subprocess failed there without a
    # message, and the builder is off the request path.
    asyncio.run(run(cfg))
