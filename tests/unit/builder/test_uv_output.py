import pytest

from services.builder.api import clip
from services.builder.commands import installed_count


@pytest.mark.parametrize(
    ("line", "count"),
    [
        ("Installed 1 package in 5ms", 1),
        ("Installed 37 packages in 120ms", 37),
        ("  Installed 2 packages in 1.2s", 2),
        ("Resolved 1 package in 84ms", None),
        ("Audited 1 package in 3ms", None),
        (" + six==1.17.0", None),
        ("", None),
    ],
)
def test_installed_count(line: str, count: int | None) -> None:
    assert installed_count(line) == count


def test_clip_keeps_the_first_line_and_the_end() -> None:
    message = "image build failed: pip_install(x)\n" + "a" * 5000 + "the cause"
    clipped = clip(message, limit=200)
    assert len(clipped) <= 200
    assert clipped.startswith("image build failed: pip_install(x)\n...\n")
    assert clipped.endswith("the cause")
    assert clip("short") == "short"
