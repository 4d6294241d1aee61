"""The scheduler's secret key from a file (compose secrets), BERTH_SECRET_KEY staying a fallback."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.scheduler.main import parse_config

KEY = "ab" * 32


@pytest.fixture
def argv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    for name in list(os.environ):
        if name.startswith("BERTH_"):
            monkeypatch.delenv(name)
    (tmp_path / "token.key").write_text("cd" * 32)
    (tmp_path / "api.token").write_text("bt_test")
    key, token = tmp_path / "token.key", tmp_path / "api.token"
    return ["--builder", "b:1", "--token-key-file", str(key), "--token-file", str(token)]


def test_the_key_is_read_from_the_file(argv: list[str], tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text(KEY + "\n")
    assert parse_config([*argv, "--secret-key-file", str(tmp_path / "secret.key")]).secret_key == KEY


def test_the_file_comes_from_the_environment_too(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "secret.key").write_text(KEY)
    monkeypatch.setenv("BERTH_SECRET_KEY_FILE", str(tmp_path / "secret.key"))
    monkeypatch.setenv("BERTH_SECRET_KEY", "ef" * 32)  # the file wins over the variable
    assert parse_config(argv).secret_key == KEY


def test_the_variable_still_works(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_SECRET_KEY", KEY)
    assert parse_config(argv).secret_key == KEY


def test_no_key_or_an_unreadable_file_is_a_clear_error(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_config(argv)
    assert "BERTH_SECRET_KEY_FILE" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_config([*argv, "--secret-key-file", str(tmp_path / "missing")])
    assert "cannot read the secret key" in capsys.readouterr().err
