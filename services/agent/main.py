"""Entry point: read config, connect to the bus, serve boot/stop orders and request streams.

Start-up, readiness and SIGTERM/SIGINT handling are the shared service skeleton's
(services/common/service.py); what is the agent's own is its runtime, the isolation line it prints
and stopping its containers before the bus connection is drained.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import os
import socket
import sys
import uuid
from collections.abc import Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nats.aio.msg import Msg
from opentelemetry import context as otel_context

from berth.v1 import bus_pb2, stream_pb2
from services.agent import callers
from services.agent.bundles import BundleCache
from services.agent.runtime import Capabilities, select
from services.agent.supervisor import Supervisor
from services.common import bus, config, ids, logs, loop, metrics, service, subjects, tracing


@dataclass(frozen=True)
class AgentConfig:
    nats_url: str
    nats_seed_file: str
    home: Path
    agent_id: str
    runtime: str
    capacity: int
    ready_file: str
    cpu: float = 0.0  # cores offered to containers, for placement; 0: not counted
    memory_mib: int = 0  # MiB offered to containers, for placement; 0: not counted
    metrics_port: int = 0  # 0: no metrics port (services/common/metrics.py)
    metrics_host: str = "127.0.0.1"
    max_calls: int = callers.MAX_CALLS  # function calls one container may have open at once


def parse_config(argv: list[str] | None = None) -> AgentConfig:
    parser = argparse.ArgumentParser(prog="berth-agent", description="Berth worker agent")
    config.common_flags(parser)
    parser.add_argument("--agent-id", default=config.env_str("BERTH_AGENT_ID", ""))
    parser.add_argument(
        "--runtime", default=config.env_str("BERTH_RUNTIME", "process"), choices=["process", "docker"]
    )
    parser.add_argument("--capacity", type=int, default=config.env_int("BERTH_AGENT_CAPACITY", 64))
    parser.add_argument("--ready-file", default=config.env_str("BERTH_AGENT_READY_FILE", ""))
    # What the scheduler may place here against functions' cpu=/memory= requests; by default the
    # host's cores and memory (agents sharing a host each offer all of it).
    parser.add_argument(
        "--cpu", type=float, default=float(config.env_str("BERTH_AGENT_CPU", "") or (os.cpu_count() or 0))
    )
    parser.add_argument(
        "--memory-mib", type=int, default=config.env_int("BERTH_AGENT_MEMORY_MIB", _host_memory_mib())
    )
    parser.add_argument(
        "--max-calls-per-container",
        type=int,
        default=config.env_int("BERTH_AGENT_MAX_CALLS", callers.MAX_CALLS),
        help="function calls one container may have open at once; beyond: 429 "
        f"(env BERTH_AGENT_MAX_CALLS; default {callers.MAX_CALLS})",
    )
    metrics.add_flags(parser, "agent")
    args = parser.parse_args(argv)
    if args.max_calls_per_container < 1:
        parser.error("--max-calls-per-container must be at least 1")
    agent_id = args.agent_id or f"{socket.gethostname().split('.')[0]}-{uuid.uuid4().hex[:6]}"
    return AgentConfig(
        nats_url=args.nats_url,
        nats_seed_file=args.nats_seed_file,
        home=Path(args.home),
        agent_id=_subject_safe(agent_id),
        runtime=args.runtime,
        capacity=args.capacity,
        ready_file=args.ready_file,
        cpu=max(0.0, args.cpu),
        memory_mib=max(0, args.memory_mib),
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
        max_calls=args.max_calls_per_container,
    )


def _host_memory_mib() -> int:
    """MemTotal of /proc/meminfo in MiB; 0 (not counted) where there is none."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _subject_safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in text)


async def run(cfg: AgentConfig) -> None:
    # The bus identity is per agent (`agent-<id>`): the server lets it hear only its own orders.
    async with service.running("agent", cfg, bus_name=f"agent-{cfg.agent_id}") as svc:
        await serve(cfg, svc)


async def serve(cfg: AgentConfig, svc: service.Service) -> None:
    nc, log = svc.nc, svc.log
    js = nc.jetstream()
    store = await bus.object_store(js, subjects.OBJ_BUNDLES)
    home = cfg.home / "agent" / cfg.agent_id
    runtime = select(cfg.runtime, home=cfg.home, agent_id=cfg.agent_id)
    announce(runtime.capabilities)
    bundles = BundleCache(store, cfg.home / "agent" / "code")
    # The process runtime runs only interpreters of images the builder made under this same home.
    supervisor = Supervisor(
        nc, cfg.agent_id, runtime, bundles, home, images=cfg.home / "images", max_calls=cfg.max_calls
    )
    background: set[asyncio.Task[None]] = set()

    def spawn(coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        background.add(task)
        task.add_done_callback(background.discard)

    async def on_boot(msg: Msg) -> None:
        order = bus_pb2.BootOrder.FromString(msg.data)

        async def boot() -> None:
            # The boot span joins the trace of the request that made the scheduler boot.
            token = otel_context.attach(tracing.extract(msg.headers))
            try:
                result = await supervisor.boot(order)
            finally:
                otel_context.detach(token)
            await msg.respond(result.SerializeToString())

        spawn(boot())

    async def on_stop(msg: Msg) -> None:
        order = bus_pb2.StopOrder.FromString(msg.data)

        async def stop() -> None:
            code = await supervisor.stop(order.container_id, order.reason or "scaled down")
            await msg.respond(
                bus_pb2.StopResult(container_id=order.container_id, exit_code=code).SerializeToString()
            )

        spawn(stop())

    async def on_data(msg: Msg) -> None:
        container_id = msg.subject.rsplit(".", 1)[-1]
        try:
            ids.container_id(container_id)
            ids.edge_reply_subject(msg.reply)  # the agent publishes the container's answers there
        except ids.InvalidId as exc:
            logs.event(log, "request frame dropped", logging.WARNING, subject=msg.subject, reason=str(exc))
            return
        bridge = supervisor.bridge_for(container_id)
        if bridge is None:
            if msg.reply:
                gone = stream_pb2.Frame(error=stream_pb2.StreamError(status=503, message="container is gone"))
                await nc.publish(msg.reply, gone.SerializeToString())
            return
        await bridge.from_edge(msg.reply, msg.data)

    await nc.subscribe(subjects.agent_boot(cfg.agent_id), cb=on_boot)
    await nc.subscribe(subjects.agent_stop(cfg.agent_id), cb=on_stop)
    await nc.subscribe(subjects.agent_data_wildcard(cfg.agent_id), cb=on_data, pending_bytes_limit=256 << 20)

    async def on_call_answer(msg: Msg) -> None:
        # An edge's answer to a function call one of this agent's containers made (callers.py).
        try:
            container_id, stream = ids.caller_reply_subject(msg.subject, cfg.agent_id)
        except ids.InvalidId:
            return
        bridge = supervisor.bridge_for(container_id)
        if bridge is not None:
            await bridge.callers.from_edge(stream, msg)

    await nc.subscribe(
        subjects.caller_reply_wildcard(cfg.agent_id), cb=on_call_answer, pending_bytes_limit=256 << 20
    )

    async def heartbeat() -> None:
        beat = bus_pb2.AgentHeartbeat(
            agent_id=cfg.agent_id,
            runtime=cfg.runtime,
            capacity=cfg.capacity,
            isolation=runtime.capabilities.isolation.value,
            cpu=cfg.cpu,
            memory_mib=cfg.memory_mib,
        )
        for tick in itertools.count():
            del beat.containers[:]
            beat.containers.extend(supervisor.statuses())
            await nc.publish(subjects.AGENT_HEARTBEAT, beat.SerializeToString())
            if tick % callers.PROBE_EVERY == 0:
                # Calls containers are waiting on: an edge that died is noticed (callers.py).
                for entry in list(supervisor.running.values()):
                    await entry.bridge.callers.probe()
            await asyncio.sleep(1.0)

    beats = asyncio.create_task(heartbeat())
    metrics_server = await metrics.serve(metrics.registry(), "agent", cfg.metrics_host, cfg.metrics_port)
    try:
        await nc.flush(timeout=5)
        svc.ready(cfg.agent_id)  # the ready file holds the agent's id
        await svc.stopped()
    finally:
        # Containers end while the bus is still up, so their exits and last logs get out; the
        # skeleton then drains the connection and flushes spans.
        beats.cancel()
        await supervisor.stop_all()
        await runtime.close()  # the process runtime's zygotes
        if metrics_server is not None:
            await metrics_server.close()


def announce(capabilities: Capabilities) -> None:
    """Says how containers are isolated, on stdout (logs/agent.log under `berth up`): one line to
    look for (`berth-agent isolation: <level>`), and a banner when there is no isolation at all."""
    network = "yes" if capabilities.network_namespaces else "no (needs root or CAP_SYS_ADMIN)"
    print(f"berth-agent web_server containers get their own network namespace: {network}")
    print(f"berth-agent isolation: {capabilities.isolation.value}: {capabilities.describe()}", flush=True)
    if not capabilities.isolated:
        print(
            "berth-agent WARNING: CONTAINERS ARE NOT ISOLATED. Deployed code runs as this user and can "
            "read $BERTH_HOME (the secret key, the API token), other apps' secrets and the Docker "
            "socket. Use this platform for your own code only (single-tenant development); run "
            "the agent as root, or allow unprivileged user namespaces, to isolate containers.",
            file=sys.stderr,
            flush=True,
        )


def main(argv: list[str] | None = None) -> None:
    cfg = parse_config(argv)
    os.makedirs(cfg.home, exist_ok=True)
    loop.run(run(cfg))
