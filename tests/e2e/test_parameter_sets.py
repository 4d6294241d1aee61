"""Parameter sets are bounded (issue #8): past the cap on live pools a new set of values is a 429
that boots nothing, idle pools go away and make room again, max_containers holds across a
function's pools, and an over-long value is a 400. The session platform runs with a low cap
(conftest.PARAMETER_SETS_CAP)."""

from __future__ import annotations

import threading
import time
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import PARAMETER_SETS_CAP, Platform, boot_orders, send, wait_until

APP = Path(__file__).parent / "apps" / "param_sets.py"

pytestmark = pytest.mark.xdist_group("parameter_sets")


def containers(platform: Platform, function: str) -> dict[str, str]:
    """Container id -> pool parameters, for every running container of one function of the app,
    read from each runner's boot order (what the scheduler asked the agent to start)."""
    return {
        order.container_id: order.pool.params
        for _pid, order in boot_orders(platform)
        if order.pool.app == "live.param-sets" and order.pool.function == function
    }


@pytest.fixture(scope="module")
def urls(platform: Platform) -> dict[str, str]:
    return platform.deploy(APP)


def test_sets_past_the_cap_get_429_and_boot_nothing_until_idle_pools_go(
    platform: Platform, urls: dict[str, str]
) -> None:
    url = urls["Capped.who"]
    names = [f"set{n}" for n in range(PARAMETER_SETS_CAP)]
    with platform.client() as client:
        served = {name: send(client, "GET", url, f"/?name={name}") for name in names}
        assert all(r.status_code == 200 for r in served.values()), {n: r.text for n, r in served.items()}
        booted = {r.json()["container"] for r in served.values()}
        assert len(booted) == PARAMETER_SETS_CAP, "one pool, so one container, per set"

        refused = send(client, "GET", url, "/?name=one-too-many")
        assert refused.status_code == 429, refused.text
        assert "too many distinct parameter sets" in refused.text
        assert int(refused.headers["retry-after"]) >= 1
        # Sets that have a pool keep being served, by the container they already have.
        again = send(client, "GET", url, f"/?name={names[0]}")
        assert again.status_code == 200 and again.json() == served[names[0]].json()

        # Once every pool has been idle for its window (2 s for the containers, 2 s for the pool),
        # a new set is accepted. Until then each try is refused, and never boots a container.
        never_booted: list[str] = []

        def accepted() -> bool:
            never_booted.extend(p for p in containers(platform, "Capped.who").values() if "one-too-many" in p)
            return send(client, "GET", url, "/?name=one-too-many").status_code == 200

        wait_until(accepted, "a new parameter set to be accepted once the idle pools were deleted", 60)
        assert never_booted == [], "a refused parameter set booted a container"
        assert set(containers(platform, "Capped.who").values()) == {"name=one-too-many"}


def test_max_containers_counts_containers_across_parameter_sets(
    platform: Platform, urls: dict[str, str]
) -> None:
    url = urls["Limited.work"]
    names = ["a", "b", "c"]
    results: dict[str, Any] = {}
    most = 0

    def call(name: str) -> None:
        with platform.client(timeout=120) as client:
            query = urllib.parse.urlencode({"name": name, "seconds": 1.5})
            results[name] = send(client, "GET", url, f"/?{query}")

    threads = [threading.Thread(target=call, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    while any(thread.is_alive() for thread in threads) and time.monotonic() < deadline:
        most = max(most, len(containers(platform, "Limited.work")))
    for thread in threads:
        thread.join(timeout=5)
    assert all(results[name].status_code == 200 for name in names), {n: r.text for n, r in results.items()}
    assert most <= 2, f"{most} containers of a max_containers=2 function ran at once"
    runs = sorted((r.json() for r in results.values()), key=lambda run: run["start"])
    assert len({run["container"] for run in runs}) == 3, "each parameter set runs in its own pool"
    # Three sets in flight but room for two: the third ran only once one of the others had finished.
    assert runs[2]["start"] >= min(runs[0]["end"], runs[1]["end"])


def test_an_over_long_parameter_value_is_a_400(platform: Platform, urls: dict[str, str]) -> None:
    url = urls["Capped.who"]
    response = platform.request("GET", url, "/?name=" + "x" * 1025)
    assert response.status_code == 400
    assert "parameter 'name' is 1025 bytes long" in response.text and "1024" in response.text
    assert not any(len(p) > 1024 for p in containers(platform, "Capped.who").values())
