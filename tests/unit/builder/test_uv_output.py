import pytest

from services.builder.api import clip
from services.builder.commands import installed_count
from services.builder.uv_output import install_summary, is_detail


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


@pytest.mark.parametrize(
    "line",
    [
        "Using CPython 3.11.7 interpreter at: /usr/bin/python3",
        "Creating virtual environment at: /home/x/.berth/images/abc/venv",
        "Activate with: source /home/x/.berth/images/abc/venv/bin/activate",
        "Using Python 3.11.7 environment at: /home/x/.berth/images/abc/venv",
        "Resolved 59 packages in 1.20s",
        "Prepared 3 packages in 26ms",
        "Installed 59 packages in 100ms",
        "Audited 1 package in 3ms",
        "Checked 1 package in 0.68ms",
        " + fastapi==0.115.0",
        " - six==1.16.0",
        " ~ idna==3.10",
        " Downloading pydantic-core (1.9MiB)",
        " Downloaded pydantic-core",
        "   Building wheel-from-sdist==1.0",
        "      Built wheel-from-sdist==1.0",
    ],
)
def test_uv_bookkeeping_is_detail(line: str) -> None:
    assert is_detail(line)


@pytest.mark.parametrize(
    "line",
    [
        "step 1/2: pip_install(fastapi)",
        "installed 59 packages in 3.1 s",
        "warning: `VIRTUAL_ENV=/x` does not match the project environment",
        "error: No solution found when resolving dependencies:",
        "  ╰─▶ Because nosuchpkg was not found in the package registry",
        "blocked: example.com:443 is not a package index",
        "runtime layer abc: ready",
    ],
)
def test_progress_warnings_and_errors_stay_visible(line: str) -> None:
    assert not is_detail(line)


def test_install_summary() -> None:
    assert install_summary(59, 3.14) == "installed 59 packages in 3.1 s"
    assert install_summary(1, 0.42) == "installed 1 package in 0.4 s"
    assert install_summary(0, 0.01).startswith("nothing to install")
