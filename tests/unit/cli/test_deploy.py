"""Which name a deployed app gets."""

from pathlib import Path

import pytest

from berth.cli.deploy import app_name


@pytest.mark.parametrize(
    "loaded, flag, expected",
    [
        ("from-app", "from-flag", "from-app"),
        ("from-app", None, "from-app"),
        (None, "from-flag", "from-flag"),
        (None, None, "my_app"),
        ("", "", "my_app"),
        ("", "from-flag", "from-flag"),
    ],
)
def test_app_name_precedence(loaded: str | None, flag: str | None, expected: str) -> None:
    assert app_name(loaded, flag, Path("/somewhere/my_app.py")) == expected
