"""What the dashboard shows, assembled from the API's answers and this edge's figures: pure.

An app's functions are those with a URL in ListApps, plus any this edge saw traffic for or the
scheduler has containers of (a function without a web endpoint has no URL). Values are formatted
here once, so the first page and each live update (events.py) show the same text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from berth.v1 import control_pb2
from services.common import subjects
from services.edge.dashboard import stats

STATS = ("state", "containers", "requests", "per_minute", "p50", "p99", "error_rate", "cold_starts")


@dataclass(frozen=True)
class FunctionView:
    app: str  # the app's name
    app_key: str  # "live.<name>" or "dev.<name>", as in the metrics' app label
    function: str
    url: str
    error: str  # the last start failure while the function crash-loops, else ""
    values: dict[str, str]  # STATS, formatted

    @property
    def key(self) -> str:
        return f"{self.app_key}/{self.function}"


@dataclass(frozen=True)
class AppView:
    name: str
    key: str
    ephemeral: bool
    version: int
    state: str
    deployed_at_ms: int
    functions: list[FunctionView] = field(default_factory=list)

    @property
    def error(self) -> str:
        return "; ".join(f"{f.function}: {f.error}" for f in self.functions if f.error)


def _containers(rows: Iterable[control_pb2.ContainerSummary]) -> dict[stats.Key, dict[str, int]]:
    counts: dict[stats.Key, dict[str, int]] = {}
    for row in rows:
        by_state = counts.setdefault((subjects.app_key(row.app, row.ephemeral), row.function), {})
        by_state[row.state] = by_state.get(row.state, 0) + 1
    return counts


def containers_text(by_state: Mapping[str, int]) -> str:
    """`3` when all are ready, else `3 (1 booting, 2 ready)`."""
    total = sum(by_state.values())
    if not total or set(by_state) == {"ready"}:
        return str(total)
    return f"{total} ({', '.join(f'{n} {s}' for s, n in sorted(by_state.items()))})"


def assemble(
    apps: Iterable[control_pb2.AppSummary],
    containers: Iterable[control_pb2.ContainerSummary],
    figures: Mapping[stats.Key, stats.Figures],
    cold: Mapping[stats.Key, stats.ColdStarts],
) -> list[AppView]:
    by_function = _containers(containers)
    views = []
    for app in apps:
        key = subjects.app_key(app.name, app.ephemeral)
        urls = {u.function: u.url for u in app.urls}
        failing = {f.function: f.last_error for f in app.failing}
        names = list(urls)
        for app_key, function in [*by_function, *figures]:
            if app_key == key and function not in names:
                names.append(function)
        view = AppView(app.name, key, app.ephemeral, app.version, app.state, app.deployed_at_ms)
        for function in names:
            fkey = (key, function)
            figure = figures.get(fkey)
            boots = cold.get(fkey)
            state = "failing" if function in failing else app.state
            values = {
                "state": state,
                "containers": containers_text(by_function.get(fkey, {})),
                "requests": str(figure.requests) if figure else "0",
                "per_minute": stats.rate(figure.per_minute) if figure else "0",
                "p50": stats.duration(figure.p50 if figure else None),
                "p99": stats.duration(figure.p99 if figure else None),
                "error_rate": stats.percent(figure.error_rate if figure else None),
                "cold_starts": _cold_text(boots),
            }
            view.functions.append(
                FunctionView(
                    app.name, key, function, urls.get(function, ""), failing.get(function, ""), values
                )
            )
        views.append(view)
    return views


def _cold_text(boots: stats.ColdStarts | None) -> str:
    if boots is None or not boots.count:
        return "0"
    if boots.mean_seconds is None:
        return str(boots.count)
    return f"{boots.count} (avg {stats.duration(boots.mean_seconds)})"


def live(views: Iterable[AppView]) -> dict[str, dict[str, dict[str, str]]]:
    """The payload of a stats event: each function's values and each app's state and error."""
    return {
        "functions": {f.key: {**f.values, "error": f.error} for v in views for f in v.functions},
        "apps": {v.key: {"state": v.state, "error": v.error, "version": str(v.version)} for v in views},
    }
