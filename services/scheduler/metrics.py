"""The scheduler's Prometheus series, and its answers to an edge's `/metrics`.

- `berth_cold_starts_total{app,function}` and `berth_cold_start_duration_seconds{app,function}`:
  each container that booted, with the boot time its agent measured (BootResult.boot_seconds).
- `berth_containers{app,function,state}`: containers by state (booting, ready, draining), read from
  the assigner's pools when scraped, so keeping them costs the scheduler nothing between scrapes.

These live in `SERIES`, a registry of their own: the scheduler's metrics port serves them with its
process metrics, and an edge folds them into its `/metrics` (berth.sched.metrics) without the
scheduler's process_* series, which would clash with the edge's own. The edge also asks here
whether a bearer token is valid (berth.sched.token-check): only the scheduler and the builder can
check tokens.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from nats.aio.client import Client
from nats.aio.msg import Msg
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from berth.v1 import bus_pb2
from services.common import auth, metrics, subjects
from services.common.metrics import add_flags as add_flags
from services.common.metrics import serve as serve
from services.scheduler.pools import Pool, State

log = logging.getLogger("berth.scheduler")

BOOT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)

SERIES = CollectorRegistry()
COLD_STARTS = Counter(
    "berth_cold_starts", "Containers booted for a function", ["app", "function"], registry=SERIES
)
COLD_START_SECONDS = Histogram(
    "berth_cold_start_duration_seconds",
    "Boot time of a container as its agent measured it, from the boot order to ready",
    ["app", "function"],
    buckets=BOOT_BUCKETS,
    registry=SERIES,
)


def booted(key: bus_pb2.PoolKey, seconds: float) -> None:
    """A container of `key`'s function is ready after `seconds` (the agent's figure)."""
    COLD_STARTS.labels(key.app, key.function).inc()
    COLD_START_SECONDS.labels(key.app, key.function).observe(seconds)


class Containers(Collector):
    """`berth_containers`: the scheduler's containers by function and state, when scraped."""

    def __init__(self) -> None:
        self.pools: dict[str, Pool] = {}

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "berth_containers", "Containers by function and state", labels=["app", "function", "state"]
        )
        counts: dict[tuple[str, str, str], int] = {}
        for pool in list(self.pools.values()):
            for state in State:
                counts.setdefault((pool.key.app, pool.key.function, state.value), 0)
            for container in list(pool.containers.values()):
                key = (pool.key.app, pool.key.function, container.state.value)
                counts[key] += 1
        for labels, count in sorted(counts.items()):
            family.add_metric(list(labels), count)
        yield family


CONTAINERS = Containers()
SERIES.register(CONTAINERS)


def watch(pools: dict[str, Pool]) -> None:
    """Reports these pools (the assigner's) as berth_containers from now on."""
    CONTAINERS.pools = pools


def registry() -> CollectorRegistry:
    """What the scheduler's metrics port serves: its process metrics and SERIES."""
    reg = metrics.registry()
    reg.register(_Included(SERIES))
    return reg


class _Included(Collector):
    def __init__(self, registry: CollectorRegistry) -> None:
        self._registry = registry

    def collect(self) -> Iterable[Metric]:
        yield from self._registry.collect()


async def answer_edges(nc: Client, verifier: auth.TokenVerifier) -> None:
    """Serves an edge's /metrics: token verdicts and SERIES in the text format."""

    async def on_token_check(msg: Msg) -> None:
        token = bus_pb2.TokenCheck.FromString(msg.data).token
        try:
            valid = await verifier.verify(token)
        except Exception:  # noqa: BLE001 - an unreadable bucket: no verdict but no
            log.warning("cannot check a token for an edge's /metrics", exc_info=True)
            valid = False
        await msg.respond(bus_pb2.TokenVerdict(valid=valid).SerializeToString())

    async def on_metrics(msg: Msg) -> None:
        await msg.respond(bus_pb2.MetricsSnapshot(text=metrics.exposition(SERIES)).SerializeToString())

    await nc.subscribe(subjects.SCHED_TOKEN_CHECK, cb=on_token_check)
    await nc.subscribe(subjects.SCHED_METRICS, cb=on_metrics)
