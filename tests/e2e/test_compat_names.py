"""Apps written with the hosted service's former names deploy and behave as the current names say:
`Stub`, `concurrency_limit`, `keep_warm`, `container_idle_timeout`, `allow_concurrent_inputs`,
`region` and `experimental.http_server`; `gpu=` is refused naming the function."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Platform, send, wait_until

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.xdist_group("compat-names")


def _containers(platform: Platform, app: str) -> list[dict[str, Any]]:
    result = platform.berth("container", "list", app, "--json", timeout=30)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


def test_former_names_deploy_with_warnings_and_are_honoured(platform: Platform) -> None:
    deployed = platform.berth("deploy", str(APPS / "compat_names.py"))
    assert deployed.returncode == 0, deployed.stderr
    for line in (
        "warning: berth.Stub is deprecated, use berth.App instead",
        "warning: App.function(concurrency_limit=...) is deprecated, use max_containers= instead",
        "warning: App.function(keep_warm=...) is deprecated, use min_containers= instead",
        "warning: App.function(container_idle_timeout=...) is deprecated, use scaledown_window= instead",
        "warning: App.function(allow_concurrent_inputs=...) is deprecated, "
        "use @berth.concurrent(max_inputs=3) instead",
        "notice: region and cloud options are ignored, this platform has one region: "
        "hello (region='us-east'); Files (proxy_regions=['us-east'])",
    ):
        assert line in deployed.stderr.splitlines(), deployed.stderr
    urls = dict(line.split(": ", 1) for line in deployed.stdout.strip().splitlines() if ": " in line)

    # keep_warm=1: one container of `hello`, ready before any request; allow_concurrent_inputs=3
    # gives it three slots.
    def warm() -> list[dict[str, Any]]:
        rows = [r for r in _containers(platform, "compat-names") if r["function"] == "hello"]
        return rows if rows and rows[0]["state"] == "ready" else []

    wait_until(warm, "keep_warm=1 to boot a container without a request", timeout=120)
    (row,) = warm()
    assert row["max_inputs"] == 3, row

    # concurrency_limit=1: six requests at once (two containers' worth at three each) all run on
    # the one container, queued rather than scaled out.
    with platform.client() as client, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: send(client, "GET", urls["hello"], "/?sleep=1"), range(6)))
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert len({a.json()["pid"] for a in answers}) == 1, [a.json() for a in answers]
    assert [r["id"] for r in _containers(platform, "compat-names") if r["function"] == "hello"] == [row["id"]]

    # experimental.http_server: the class's @enter hook started a server, proxied like web_server.
    listing = platform.request("GET", urls["Files.http_server"], "/")
    assert listing.status_code == 200 and "etc/" in listing.text, listing.text[:300]


def test_gpu_is_refused_naming_the_function(platform: Platform) -> None:
    refused = platform.berth("deploy", str(APPS / "compat_gpu.py"))
    assert refused.returncode != 0
    assert "function 'embed': gpu='A10G' is not supported" in refused.stderr, refused.stderr
    assert "the rest of the app deploys only once it is removed" in refused.stderr, refused.stderr
    listed = platform.berth("app", "list", "--json", timeout=60)
    assert listed.returncode == 0 and "compat-gpu" not in listed.stdout, listed.stdout
