"""`berth secret create` values from .env and JSON files and standard input; errors never show a value."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from berth._errors import InvalidError
from berth.cli.secret_values import gather, parse_dotenv, parse_json

DOTENV = """
# a comment
export USER=admin
PASSWORD='p#ss word'
GREETING="hello\\nworld"  # a comment after a quoted value
PLAIN=value # trailing comment
EMPTY=
URL=https://example.com/?a=b#frag
"""


def test_dotenv(tmp_path: Path) -> None:
    assert parse_dotenv(DOTENV, ".env") == {
        "USER": "admin",
        "PASSWORD": "p#ss word",
        "GREETING": "hello\nworld",
        "PLAIN": "value",
        "EMPTY": "",
        "URL": "https://example.com/?a=b#frag",
    }
    path = tmp_path / ".env"
    path.write_text(DOTENV)
    assert gather([], dotenv=[str(path)])["USER"] == "admin"


def test_dotenv_errors_name_the_line_not_the_value() -> None:
    with pytest.raises(InvalidError, match=r"^\.env:2: not a KEY=VALUE line$"):
        parse_dotenv("A=1\nhunter2\n", ".env")
    with pytest.raises(InvalidError, match="no closing") as info:
        parse_dotenv('A="hunter2\n', ".env")
    assert "hunter2" not in str(info.value)


def test_json(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"TOKEN": "abc", "URL": "https://x"}')
    assert gather([], json_files=[str(path)]) == {"TOKEN": "abc", "URL": "https://x"}
    with pytest.raises(InvalidError, match="'PORT' is not a string"):
        parse_json('{"PORT": 5432}', "s.json")
    with pytest.raises(InvalidError, match="expected a JSON object"):
        parse_json('["a"]', "s.json")
    with pytest.raises(InvalidError, match="not JSON"):
        parse_json("{", "s.json")


def test_stdin_sources() -> None:
    assert gather([], dotenv=["-"], stdin=io.StringIO("A=1\nB=2\n")) == {"A": "1", "B": "2"}
    assert gather([], json_files=["-"], stdin=io.StringIO('{"A": "1"}')) == {"A": "1"}
    # A bare KEY takes the piped value, less the newline `echo` adds.
    assert gather(["TOKEN"], stdin=io.StringIO("s3cret\n")) == {"TOKEN": "s3cret"}
    assert gather(["TOKEN", "USER=me"], stdin=io.StringIO("a b\n\n")) == {"TOKEN": "a b\n", "USER": "me"}
    with pytest.raises(InvalidError, match="only one bare KEY"):
        gather(["A", "B"], stdin=io.StringIO("x"))
    with pytest.raises(InvalidError, match="standard input can be read once"):
        gather(["A"], dotenv=["-"], stdin=io.StringIO("x"))


def test_a_terminal_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    asked: list[str] = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return "typed"

    monkeypatch.setattr("getpass.getpass", fake_getpass)
    assert gather(["A", "B"], stdin=Tty()) == {"A": "typed", "B": "typed"}
    assert asked == ["A: ", "B: "]


def test_sources_combine_and_a_key_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text("A=from-file\n")
    assert gather(["B=2"], dotenv=[str(path)]) == {"B": "2", "A": "from-file"}
    with pytest.raises(InvalidError, match=r"A is given twice \(the command line and .*\.env\)") as info:
        gather(["A=hunter2"], dotenv=[str(path)])
    assert "hunter2" not in str(info.value) and "from-file" not in str(info.value)


def test_nothing_or_nonsense() -> None:
    with pytest.raises(InvalidError, match="give at least one"):
        gather([], stdin=io.StringIO(""))
    with pytest.raises(InvalidError, match="is not KEY=VALUE"):
        gather(["=value"])
    with pytest.raises(InvalidError, match="is not KEY=VALUE"):
        gather(["not a key"])
    with pytest.raises(InvalidError, match="cannot read"):
        gather([], dotenv=["/nonexistent/.env"])
