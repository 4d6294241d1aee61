"""Who containers may call, and how many calls each may have open: from flags and the environment
(`berth up --container-calls` passes the edge's flag; compose sets BERTH_CONTAINER_CALLS)."""

import pytest

from berth.cli.main import build_parser
from services.agent import callers
from services.agent.main import parse_config as agent_config
from services.edge.main import parse_config as edge_config


def test_containers_call_their_own_app_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_CONTAINER_CALLS", raising=False)
    assert edge_config([]).container_calls == "own-app"
    assert edge_config(["--container-calls", "any"]).container_calls == "any"
    monkeypatch.setenv("BERTH_CONTAINER_CALLS", "any")
    assert edge_config([]).container_calls == "any"


def test_an_unknown_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_CONTAINER_CALLS", raising=False)
    with pytest.raises(SystemExit):
        edge_config(["--container-calls", "some"])


def test_berth_up_takes_the_setting() -> None:
    assert build_parser().parse_args(["up"]).container_calls is None  # the edge's own default then
    assert build_parser().parse_args(["up", "--container-calls", "any"]).container_calls == "any"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["up", "--container-calls", "all"])


def test_the_agent_bounds_calls_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_AGENT_MAX_CALLS", raising=False)
    assert agent_config([]).max_calls == callers.MAX_CALLS == 256
    assert agent_config(["--max-calls-per-container", "8"]).max_calls == 8
    monkeypatch.setenv("BERTH_AGENT_MAX_CALLS", "4")
    assert agent_config([]).max_calls == 4
    with pytest.raises(SystemExit):
        agent_config(["--max-calls-per-container", "0"])
