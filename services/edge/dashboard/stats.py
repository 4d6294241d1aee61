"""Per-function figures for the dashboard, from Prometheus samples: pure, clocked from outside.

The edge's registry holds cumulative series (services/edge/metrics.py): requests by status class and
a latency histogram. A figure "over the last minute" is the difference between now and a snapshot
taken about a minute ago, the way Prometheus' `increase()` and `histogram_quantile()` read them:

- requests/min: the requests counted since the baseline, per 60 s of elapsed time; while the
  edge has been up less than a minute, the count so far (a partial minute is not extrapolated).
- error rate: the share of those requests answered 5xx.
- p50/p99: interpolated linearly inside the histogram bucket the rank falls in (the bucket's lower
  bound is the previous `le`, 0 for the first); a rank in the +Inf bucket reads as the highest
  finite bound, as histogram_quantile does.

Cold starts come from the scheduler's series (berth_cold_starts_total and the boot-time histogram),
which count every edge's traffic; requests and latency are this edge's only.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from prometheus_client.samples import Sample

WINDOW = 60.0  # seconds: "per minute"
REQUESTS = "berth_requests_total"
BUCKETS = "berth_request_duration_seconds_bucket"
COLD_STARTS = "berth_cold_starts_total"
COLD_START_SUM = "berth_cold_start_duration_seconds_sum"
COLD_START_COUNT = "berth_cold_start_duration_seconds_count"

Key = tuple[str, str]  # (app key as in the series, e.g. "live.hello"; function)


@dataclass
class Counts:
    """One function's cumulative series at one moment."""

    requests: float = 0.0
    errors: float = 0.0  # 5xx
    # Cumulative bucket counts by upper bound (math.inf for +Inf), as exposed.
    buckets: dict[float, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Snapshot:
    at: float
    functions: Mapping[Key, Counts]


def snapshot(samples: Iterable[Sample], at: float) -> Snapshot:
    """The request counters and latency buckets among `samples`, by (app, function)."""
    functions: dict[Key, Counts] = {}
    for sample in samples:
        if sample.name not in (REQUESTS, BUCKETS):
            continue
        labels = sample.labels
        key = (labels.get("app", ""), labels.get("function", ""))
        counts = functions.get(key)
        if counts is None:
            counts = functions[key] = Counts()
        if sample.name == REQUESTS:
            counts.requests += sample.value
            if labels.get("status_class") == "5xx":
                counts.errors += sample.value
        else:
            bound = float(labels.get("le", "+Inf"))
            counts.buckets[bound] = counts.buckets.get(bound, 0.0) + sample.value
    return Snapshot(at, functions)


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """The q-quantile of cumulative `buckets` (upper bound -> count), None when they are empty."""
    bounds = sorted(buckets)
    if not bounds:
        return None
    total = buckets[bounds[-1]]
    if total <= 0:
        return None
    rank = q * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower  # the highest finite bound: nothing is known above it
            if count == below:
                return bound
            return lower + (bound - lower) * (rank - below) / (count - below)
        lower, below = bound, count
    return lower


def _delta(now: float, then: float) -> float:
    # A counter only goes down when its process restarted: count from zero, as increase() does.
    return now - then if now >= then else now


@dataclass(frozen=True)
class Figures:
    """What the dashboard shows for one function, from this edge's traffic."""

    requests: int  # since this edge started
    per_minute: float
    p50: float | None  # seconds, over the last minute; None without requests
    p99: float | None
    error_rate: float | None  # 5xx share over the last minute; None without requests


def figures(now: Snapshot, base: Snapshot | None) -> dict[Key, Figures]:
    """Each function's figures between `base` (about a minute earlier) and `now`."""
    out: dict[Key, Figures] = {}
    elapsed = max(now.at - base.at, WINDOW) if base is not None else WINDOW
    for key, counts in now.functions.items():
        before = base.functions.get(key) if base is not None else None
        before = before or Counts()
        requests = _delta(counts.requests, before.requests)
        errors = _delta(counts.errors, before.errors)
        buckets = {b: _delta(c, before.buckets.get(b, 0.0)) for b, c in counts.buckets.items()}
        out[key] = Figures(
            requests=int(counts.requests),
            per_minute=requests * WINDOW / elapsed,
            p50=quantile(0.5, buckets),
            p99=quantile(0.99, buckets),
            error_rate=errors / requests if requests > 0 else None,
        )
    return out


class Window:
    """Snapshots of the last minute and a bit, sampled every few seconds."""

    def __init__(self, span: float = WINDOW) -> None:
        self._span = span
        self._kept: deque[Snapshot] = deque()

    def add(self, snap: Snapshot) -> None:
        self._kept.append(snap)
        # Keep one snapshot at least `span` old as the baseline; drop those older than it.
        while len(self._kept) >= 2 and snap.at - self._kept[1].at >= self._span:
            self._kept.popleft()

    def baseline(self, at: float) -> Snapshot | None:
        """The newest snapshot at least a window before `at`, else the oldest kept."""
        chosen = None
        for snap in self._kept:
            if at - snap.at >= self._span:
                chosen = snap
            else:
                break
        if chosen is not None:
            return chosen
        return self._kept[0] if self._kept else None


@dataclass(frozen=True)
class ColdStarts:
    count: int
    mean_seconds: float | None


def cold_starts(samples: Iterable[Sample]) -> dict[Key, ColdStarts]:
    """Containers booted per function and their mean boot time, from the scheduler's series."""
    count: dict[Key, float] = {}
    boot_sum: dict[Key, float] = {}
    boot_count: dict[Key, float] = {}
    for sample in samples:
        key = (sample.labels.get("app", ""), sample.labels.get("function", ""))
        if sample.name == COLD_STARTS:
            count[key] = count.get(key, 0.0) + sample.value
        elif sample.name == COLD_START_SUM:
            boot_sum[key] = boot_sum.get(key, 0.0) + sample.value
        elif sample.name == COLD_START_COUNT:
            boot_count[key] = boot_count.get(key, 0.0) + sample.value
    return {
        key: ColdStarts(
            int(value),
            boot_sum.get(key, 0.0) / boot_count[key] if boot_count.get(key) else None,
        )
        for key, value in count.items()
    }


def duration(seconds: float | None) -> str:
    """A latency for people: `-` when unknown, ms below a second, else seconds."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s"


def percent(share: float | None) -> str:
    return "-" if share is None else f"{share * 100:.1f}%"


def rate(per_minute: float) -> str:
    return f"{per_minute:.0f}" if per_minute >= 10 or per_minute == int(per_minute) else f"{per_minute:.1f}"
