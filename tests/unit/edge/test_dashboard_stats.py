"""The dashboard's figures from Prometheus samples: deltas over a minute, quantiles from buckets."""

from __future__ import annotations

import asyncio
import math

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.samples import Sample

from services.edge.dashboard import stats
from services.edge.metrics import DURATION_BUCKETS, EdgeMetrics

KEY = ("live.hello", "f")


def sample(name: str, value: float, **labels: str) -> Sample:
    return Sample(name, {"app": "live.hello", "function": "f", **labels}, value)


def snap(at: float, ok: float, errors: float, buckets: dict[float, float]) -> stats.Snapshot:
    samples = [
        sample(stats.REQUESTS, ok, status_class="2xx"),
        sample(stats.REQUESTS, errors, status_class="5xx"),
        *(
            sample(stats.BUCKETS, count, le="+Inf" if math.isinf(le) else str(le))
            for le, count in buckets.items()
        ),
    ]
    return stats.snapshot(samples, at)


def test_quantile_interpolates_inside_the_bucket_like_histogram_quantile() -> None:
    buckets = {0.1: 10.0, 0.2: 30.0, 0.5: 40.0, math.inf: 40.0}
    # rank 20 of 40 falls in (0.1, 0.2]: 10 below, 20 inside, halfway through.
    assert stats.quantile(0.5, buckets) == pytest.approx(0.15)
    # rank 39.6 falls in (0.2, 0.5]: 30 below, 10 inside.
    assert stats.quantile(0.99, buckets) == pytest.approx(0.2 + 0.3 * 9.6 / 10)
    assert stats.quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
    assert stats.quantile(0.5, {}) is None


def test_a_rank_in_the_inf_bucket_reads_as_the_highest_finite_bound() -> None:
    assert stats.quantile(0.99, {1.0: 1.0, 5.0: 2.0, math.inf: 10.0}) == 5.0


def test_the_first_bucket_starts_at_zero() -> None:
    assert stats.quantile(0.5, {0.01: 4.0, math.inf: 4.0}) == pytest.approx(0.005)


def test_figures_are_deltas_between_the_baseline_and_now() -> None:
    base = snap(0.0, ok=100, errors=5, buckets={0.1: 100, 1.0: 105, math.inf: 105})
    now = snap(60.0, ok=130, errors=15, buckets={0.1: 120, 1.0: 145, math.inf: 145})
    figure = stats.figures(now, base)[KEY]
    assert figure.requests == 145  # since the edge started
    assert figure.per_minute == pytest.approx(40)
    assert figure.error_rate == pytest.approx(10 / 40)
    # 40 requests in the minute: 20 at most 0.1 s, 20 in (0.1, 1.0]; the median sits at 0.1 s.
    assert figure.p50 == pytest.approx(0.1)
    assert figure.p99 == pytest.approx(0.1 + 0.9 * (39.6 - 20) / 20)


def test_requests_per_minute_scale_to_the_elapsed_time_but_never_extrapolate_a_partial_minute() -> None:
    base = snap(0.0, ok=0, errors=0, buckets={math.inf: 0})
    assert stats.figures(snap(120.0, ok=60, errors=0, buckets={math.inf: 60}), base)[KEY].per_minute == 30
    assert stats.figures(snap(10.0, ok=6, errors=0, buckets={math.inf: 6}), base)[KEY].per_minute == 6


def test_no_requests_in_the_window_leave_latency_and_error_rate_unknown() -> None:
    same = snap(0.0, ok=3, errors=0, buckets={0.1: 3, math.inf: 3})
    figure = stats.figures(snap(60.0, ok=3, errors=0, buckets={0.1: 3, math.inf: 3}), same)[KEY]
    assert (figure.requests, figure.per_minute, figure.p50, figure.error_rate) == (3, 0, None, None)


def test_a_counter_that_went_down_counts_from_zero() -> None:
    base = snap(0.0, ok=50, errors=0, buckets={math.inf: 50})
    figure = stats.figures(snap(60.0, ok=4, errors=0, buckets={math.inf: 4}), base)[KEY]
    assert figure.per_minute == 4


def test_without_a_baseline_everything_so_far_counts() -> None:
    figure = stats.figures(snap(5.0, ok=2, errors=1, buckets={0.5: 3, math.inf: 3}), None)[KEY]
    assert figure.per_minute == 3 and figure.error_rate == pytest.approx(1 / 3)


def test_the_window_keeps_one_snapshot_a_minute_old_as_the_baseline() -> None:
    window = stats.Window()
    for at in range(0, 130, 2):
        window.add(stats.Snapshot(float(at), {}))
    base = window.baseline(128.0)
    assert base is not None and base.at == 68.0
    fresh = stats.Window()
    fresh.add(stats.Snapshot(10.0, {}))
    found = fresh.baseline(12.0)
    assert found is not None and found.at == 10.0  # younger than a minute: the oldest kept
    assert stats.Window().baseline(1.0) is None


def test_snapshots_read_the_edges_own_registry() -> None:
    registry = CollectorRegistry()
    metrics = EdgeMetrics(registry)
    route = type("Route", (), {"app": "live.hello", "function": "f"})()

    async def answer(status: int) -> None:
        send = metrics.observe(route, _noop)  # type: ignore[arg-type]
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    for status in (200, 200, 503):
        asyncio.run(answer(status))
    samples = [s for family in registry.collect() for s in family.samples]
    counts = stats.snapshot(samples, 0.0).functions[KEY]
    assert (counts.requests, counts.errors) == (3, 1)
    assert len(counts.buckets) == len(DURATION_BUCKETS) + 1 and counts.buckets[math.inf] == 3


async def _noop(message: object) -> None:
    return None


def test_cold_starts_come_from_the_schedulers_series() -> None:
    samples = [
        sample(stats.COLD_STARTS, 2),
        sample(stats.COLD_START_SUM, 3.0),
        sample(stats.COLD_START_COUNT, 2),
        Sample(stats.COLD_STARTS, {"app": "live.other", "function": "g"}, 1),
    ]
    found = stats.cold_starts(samples)
    assert found[KEY] == stats.ColdStarts(2, 1.5)
    assert found[("live.other", "g")] == stats.ColdStarts(1, None)


def test_formatting() -> None:
    assert stats.duration(None) == "-"
    assert stats.duration(0.0123) == "12.3 ms"
    assert stats.duration(2.456) == "2.46 s"
    assert stats.percent(0.25) == "25.0%" and stats.percent(None) == "-"
    assert stats.rate(3.0) == "3" and stats.rate(2.5) == "2.5" and stats.rate(42.4) == "42"
