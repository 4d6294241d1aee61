"""A service's metrics port: /metrics in the Prometheus text format over real HTTP, nothing else."""

from __future__ import annotations

import argparse

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.common import metrics


async def test_the_port_serves_process_metrics_and_nothing_else() -> None:
    server = await metrics.serve(metrics.registry(), "test", "127.0.0.1", metrics.AUTO)
    assert server is not None and server.port > 0
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}", timeout=10) as client:
            page = await client.get("/metrics")
            assert page.status_code == 200
            names = {f.name for f in text_string_to_metric_families(page.text)}
            assert {"process_resident_memory_bytes", "process_cpu_seconds", "python_info"} <= names
            assert (await client.get("/")).status_code == 404
            assert (await client.post("/metrics")).status_code == 404
    finally:
        await server.close()


async def test_port_zero_serves_nothing() -> None:
    assert await metrics.serve(metrics.registry(), "test", "127.0.0.1", 0) is None


def test_the_flag_and_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    parser = argparse.ArgumentParser()
    monkeypatch.setenv("BERTH_EDGE_METRICS_PORT", "9464")
    metrics.add_flags(parser, "edge")
    assert parser.parse_args([]).metrics_port == 9464
    assert parser.parse_args(["--metrics-port", "auto"]).metrics_port == metrics.AUTO
    assert parser.parse_args([]).metrics_host == "127.0.0.1"
    for bad in ("nine", "70000", "-5"):
        with pytest.raises(argparse.ArgumentTypeError):
            metrics.parse_port(bad)
