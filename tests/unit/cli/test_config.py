"""Client configuration: the file `berth up` writes, and the environment overriding it."""

import stat
from pathlib import Path

import pytest

from berth.cli.config import ClientConfig, config_path, home, load, save


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BERTH_SERVER", "BERTH_TOKEN", "BERTH_HOME"):
        monkeypatch.delenv(name, raising=False)


def test_round_trip(tmp_path: Path) -> None:
    config = ClientConfig(server="localhost:50051", token="bt_abc", edge_url="http://berth.localhost:8080")
    path = save(config, tmp_path / "home")
    assert path == config_path(tmp_path / "home") == tmp_path / "home" / "config.toml"
    assert load(tmp_path / "home") == config


def test_file_is_private(tmp_path: Path) -> None:
    path = save(ClientConfig(server="s", token="bt_secret"), tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not path.with_suffix(".tmp").exists()


def test_save_replaces(tmp_path: Path) -> None:
    save(ClientConfig(server="old", token="t1"), tmp_path)
    save(ClientConfig(server="new", token="t2"), tmp_path)
    assert load(tmp_path) == ClientConfig(server="new", token="t2")


def test_no_file_gives_empty_config(tmp_path: Path) -> None:
    assert load(tmp_path) == ClientConfig(server="", token="")


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save(ClientConfig(server="file:1", token="bt_file", edge_url="http://edge"), tmp_path)
    monkeypatch.setenv("BERTH_SERVER", "env:2")
    assert load(tmp_path) == ClientConfig(server="env:2", token="bt_file", edge_url="http://edge")
    monkeypatch.setenv("BERTH_TOKEN", "bt_env")
    assert load(tmp_path) == ClientConfig(server="env:2", token="bt_env", edge_url="http://edge")


def test_environment_alone_needs_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_SERVER", "remote:50051")
    monkeypatch.setenv("BERTH_TOKEN", "bt_env")
    assert load(tmp_path) == ClientConfig(server="remote:50051", token="bt_env")


def test_empty_environment_values_do_not_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    save(ClientConfig(server="file:1", token="bt_file"), tmp_path)
    monkeypatch.setenv("BERTH_SERVER", "")
    assert load(tmp_path).server == "file:1"


def test_home_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_HOME", str(tmp_path / "custom"))
    assert home() == tmp_path / "custom"
    save(ClientConfig(server="s", token="t"))
    assert (tmp_path / "custom" / "config.toml").exists()
    assert load().server == "s"
