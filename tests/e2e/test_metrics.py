"""Prometheus metrics against the shared `berth up`: the edge's /metrics on its bare host counts
each function's requests (with the scheduler's series folded in), answers loopback clients and API
token holders only, and every service's own metrics port serves its process metrics."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from berth.cli.config import load
from services.common import bus, credentials, metrics
from services.edge.metrics import EdgeMetrics, SchedulerLink
from tests.e2e.conftest import Platform, send, wait_until

APP = Path(__file__).parent / "apps" / "metered.py"
FAR_CLIENT = ("203.0.113.7", 40000)  # TEST-NET-3: an address that is not this host's


def scrape(platform: Platform, **headers: str) -> httpx.Response:
    """GET /metrics on the edge's own name, from loopback (the test runs on the edge's host)."""
    return httpx.get(
        f"http://127.0.0.1:{platform.port}/metrics",
        headers={"host": f"localhost:{platform.port}", **headers},
        timeout=30,
    )


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(found: Iterable[Sample], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels` (0 when there are none)."""
    return sum(
        s.value for s in found if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_metrics_count_each_functions_requests(platform: Platform) -> None:
    url = platform.deploy(APP)["ping"]
    with platform.client() as client:
        assert send(client, "GET", url).text == '"pong"'  # the first call boots a container
        before = samples(scrape(platform).text)
        for _ in range(5):
            assert send(client, "GET", url).status_code == 200
        assert send(client, "GET", url, "/nowhere").status_code == 404
    response = scrape(platform)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    after = samples(response.text)

    ping = {"app": "live.metered", "function": "ping"}  # the app key: `dev.` for `berth serve`
    ok, missing = {**ping, "status_class": "2xx"}, {**ping, "status_class": "4xx"}
    assert value(after, "berth_requests_total", **ok) - value(before, "berth_requests_total", **ok) == 5
    assert (
        value(after, "berth_requests_total", **missing) - value(before, "berth_requests_total", **missing)
        == 1
    )
    count = "berth_request_duration_seconds_count"
    assert value(after, count, **ping) - value(before, count, **ping) == 6
    buckets = [
        s
        for s in after
        if s.name == "berth_request_duration_seconds_bucket" and s.labels["app"] == "live.metered"
    ]
    assert any(s.labels["le"] == "+Inf" for s in buckets) and len(buckets) > 10
    assert "berth_queue_depth" in {family.name for family in text_string_to_metric_families(response.text)}
    # The scheduler's series, folded in: the boot the first call caused, and the container it left.
    assert value(after, "berth_cold_starts_total", **ping) >= 1
    assert value(after, "berth_cold_start_duration_seconds_count", **ping) >= 1
    assert value(after, "berth_containers", **ping, state="ready") >= 1
    assert value(after, "process_cpu_seconds_total") > 0


def test_metrics_are_a_404_to_other_hosts_and_app_hosts(platform: Platform) -> None:
    """Loopback still sees /metrics only on the edge's own name; an app's host keeps its own path."""
    url = platform.deploy(APP)["ping"]
    with platform.client() as client:
        at_app = send(client, "GET", url, "/metrics")
    assert at_app.status_code == 404 and "berth_requests_total" not in at_app.text  # the app's own 404


@pytest.fixture
async def edge_link(platform: Platform) -> AsyncIterator[SchedulerLink]:
    """The edge's link to the scheduler, on the real bus under the edge's own identity."""
    nc = await bus.connect(
        platform.nats_url, "test-edge-metrics", seed_file=str(platform.seed_file(credentials.EDGE))
    )
    try:
        yield SchedulerLink(nc)
    finally:
        await nc.drain()


async def page(
    edge: EdgeMetrics, client: tuple[str, int], headers: list[tuple[bytes, bytes]]
) -> tuple[int, bytes]:
    """One real ASGI call of the edge's /metrics page, as uvicorn would make it."""
    sent: list[dict[str, object]] = []

    async def collect(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {"type": "http", "path": "/metrics", "method": "GET", "client": client, "headers": headers}
    await edge.page(scope, collect)
    status = sent[0]["status"]
    assert isinstance(status, int)
    return status, b"".join(m.get("body", b"") for m in sent[1:])  # type: ignore[misc]


async def test_far_clients_need_a_valid_api_token(platform: Platform, edge_link: SchedulerLink) -> None:
    edge = EdgeMetrics(
        metrics.registry(), token_check=edge_link.check_token, scheduler_series=edge_link.series
    )
    token = load(platform.home).token
    assert token

    status, body = await page(edge, FAR_CLIENT, [])
    assert status == 404 and b"berth_" not in body and b"process_" not in body
    status, _ = await page(edge, FAR_CLIENT, [(b"authorization", b"Bearer bt_not-a-token")])
    assert status == 404
    status, _ = await page(edge, FAR_CLIENT, [(b"authorization", token.encode())])  # no Bearer
    assert status == 404

    status, body = await page(edge, FAR_CLIENT, [(b"authorization", f"Bearer {token}".encode())])
    assert status == 200
    names = {s.name for s in samples(body.decode())}
    assert "process_cpu_seconds_total" in names and "berth_containers" in names  # the scheduler's, folded in

    status, _ = await page(edge, ("127.0.0.1", 40000), [])
    assert status == 200


def test_each_service_serves_process_metrics_on_its_metrics_port(platform: Platform) -> None:
    for service in ("edge", "scheduler", "agent", "builder"):
        log = platform.home / "logs" / f"{service}.log"
        found: list[str] = []

        def announced(log: Path = log, service: str = service, found: list[str] = found) -> bool:
            found[:] = re.findall(rf"^{service} metrics on (http://\S+/metrics)$", log.read_text(), re.M)
            return bool(found)

        wait_until(announced, f"the {service}'s metrics port in {log}", timeout=30)
        response = httpx.get(found[-1], timeout=10)
        assert response.status_code == 200, service
        names = {s.name for s in samples(response.text)}
        assert "process_resident_memory_bytes" in names, service
        if service == "scheduler":
            assert "berth_containers" in names
        assert httpx.get(found[-1].replace("/metrics", "/other"), timeout=10).status_code == 404
