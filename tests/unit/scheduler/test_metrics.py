"""The scheduler's series: containers by state read from its pools when scraped, cold starts as
agents report them."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from berth.v1 import bus_pb2, spec_pb2
from services.common import metrics as common_metrics
from services.scheduler import metrics
from services.scheduler.pools import ContainerRecord, Pool, State


def value(name: str, **labels: str) -> float:
    text = common_metrics.exposition(metrics.SERIES).decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def test_containers_by_state_follow_the_pools() -> None:
    key = bus_pb2.PoolKey(app="live.m", function="f", version=1)
    pool = Pool(key=key, function=spec_pb2.FunctionSpec())
    pools = {"p": pool}
    metrics.watch(pools)
    try:
        for i, state in enumerate([State.READY, State.READY, State.BOOTING]):
            pool.containers[f"c{i}"] = ContainerRecord(f"c{i}", "agent", state=state)
        labels = {"app": "live.m", "function": "f"}
        assert value("berth_containers", **labels, state="ready") == 2
        assert value("berth_containers", **labels, state="booting") == 1
        assert value("berth_containers", **labels, state="draining") == 0
        pool.containers["c0"].state = State.DRAINING
        del pool.containers["c2"]
        assert value("berth_containers", **labels, state="ready") == 1
        assert value("berth_containers", **labels, state="draining") == 1
        assert value("berth_containers", **labels, state="booting") == 0
        del pools["p"]
        assert value("berth_containers", **labels, state="ready") == 0
    finally:
        metrics.watch({})


def test_cold_starts_count_with_the_agents_boot_time() -> None:
    key = bus_pb2.PoolKey(app="live.cold", function="g", version=2)
    labels = {"app": "live.cold", "function": "g"}
    before = value("berth_cold_starts_total", **labels)
    metrics.booted(key, 0.04)
    metrics.booted(key, 0.3)
    assert value("berth_cold_starts_total", **labels) == before + 2
    assert value("berth_cold_start_duration_seconds_bucket", **labels, le="0.05") >= 1
    assert value("berth_cold_start_duration_seconds_count", **labels) == before + 2
