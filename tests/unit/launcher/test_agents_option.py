"""`berth up --agents N`: how many agents, and their ids kept across starts."""

from pathlib import Path

import pytest

from berth._errors import Error
from services.common import credentials
from services.launcher import platform


def test_agent_ids_are_kept_and_new_ones_made_for_more_agents(tmp_path: Path) -> None:
    first = platform._agent_ids(tmp_path, 1)
    assert len(first) == 1
    for agent_id in first:
        credentials.ensure(tmp_path, credentials.agent_identity(agent_id))
    three = platform._agent_ids(tmp_path, 3)
    assert len(set(three)) == 3 and first[0] in three
    for agent_id in three:
        credentials.ensure(tmp_path, credentials.agent_identity(agent_id))
    # The next start with the same number runs the same agents (their bus identities exist).
    assert sorted(platform._agent_ids(tmp_path, 3)) == sorted(three)
    assert len(platform._agent_ids(tmp_path, 2)) == 2


def test_the_number_of_agents_comes_from_the_flag_else_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BERTH_AGENTS", raising=False)
    assert platform.Platform(tmp_path, 0, echo=print).agents == 1
    monkeypatch.setenv("BERTH_AGENTS", "3")
    assert platform.Platform(tmp_path, 0, echo=print).agents == 3
    assert platform.Platform(tmp_path, 0, echo=print, agents=2).agents == 2


def test_a_wrong_number_of_agents_is_refused_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Error, match="--agents must be at least 1"):
        platform.Platform(tmp_path, 0, echo=print, agents=0)
    monkeypatch.setenv("BERTH_AGENTS", "three")
    with pytest.raises(Error, match="BERTH_AGENTS='three': expected a number of agents"):
        platform.Platform(tmp_path, 0, echo=print)
