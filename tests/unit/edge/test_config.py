"""The edge's rate limit and HTTP limits from flags and the environment (`berth up --rate-limit`
passes the flag; compose sets BERTH_RATE_LIMIT)."""

import pytest

from services.edge.limits import EdgeLimits
from services.edge.main import parse_config


def test_defaults_have_no_rate_limit_and_the_documented_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BERTH_RATE_LIMIT", "BERTH_EDGE_HEADER_TIMEOUT", "BERTH_EDGE_MAX_CONNECTIONS_PER_IP"):
        monkeypatch.delenv(name, raising=False)
    cfg = parse_config([])
    assert cfg.rate_limit == 0 and cfg.limits == EdgeLimits()


def test_the_rate_limit_comes_from_the_flag_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_RATE_LIMIT", "200")
    assert parse_config([]).rate_limit == 200
    assert parse_config(["--rate-limit", "2.5"]).rate_limit == 2.5


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_EDGE_HEADER_TIMEOUT", "3")
    monkeypatch.setenv("BERTH_EDGE_MAX_CONNECTIONS_PER_IP", "0")
    limits = parse_config([]).limits
    assert limits.header_timeout == 3 and limits.max_connections_per_ip == 0


@pytest.mark.parametrize("value", ["-1", "fast"])
def test_a_bad_rate_limit_is_refused(value: str) -> None:
    with pytest.raises(SystemExit):
        parse_config(["--rate-limit", value])
