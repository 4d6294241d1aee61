import pytest

from services.builder.errors import InvalidSpec
from services.builder.interpreter import Interpreter, parse_version, path_candidates, select

HOST = dict(current=(3, 11), executable="/host/python")


def _never_probed(path: str) -> str | None:
    raise AssertionError(f"probed {path}")


def test_empty_and_own_version_use_the_running_interpreter() -> None:
    none = dict(candidates=dict, run_probe=_never_probed)
    assert select("", **HOST, **none) == Interpreter("/host/python", "3.11")  # type: ignore[arg-type]
    assert select("3.11", **HOST, **none) == Interpreter("/host/python", "3.11")  # type: ignore[arg-type]
    assert select("3.11.2", **HOST, **none) == Interpreter("/host/python", "3.11")  # type: ignore[arg-type]


def test_other_version_found_on_path_when_it_runs() -> None:
    chosen = select(
        "3.12",
        **HOST,  # type: ignore[arg-type]
        candidates=lambda: {"3.12": "/usr/bin/python3.12"},
        run_probe=lambda path: "3.12",
    )
    assert chosen == Interpreter("/usr/bin/python3.12", "3.12")


def test_unavailable_version_names_what_is_available() -> None:
    # python3.12 is a shim that does not run (as pyenv leaves them); python3.10 runs.
    versions = {"/shims/python3.12": None, "/usr/bin/python3.10": "3.10"}
    with pytest.raises(InvalidSpec) as error:
        select(
            "3.12",
            **HOST,  # type: ignore[arg-type]
            candidates=lambda: {"3.12": "/shims/python3.12", "3.10": "/usr/bin/python3.10"},
            run_probe=versions.__getitem__,
        )
    assert error.value.message == (
        "python_version 3.12 is not available on this host (process runtime); available: 3.10, 3.11"
    )


@pytest.mark.parametrize("bad", ["3", "three", "3.x", "py3.11"])
def test_malformed_versions_are_invalid(bad: str) -> None:
    with pytest.raises(InvalidSpec, match="is not a version like 3.11"):
        parse_version(bad)


def test_path_candidates_takes_the_first_per_version(tmp_path) -> None:  # type: ignore[no-untyped-def]
    first, second = tmp_path / "a", tmp_path / "b"
    for directory in (first, second):
        directory.mkdir()
        for name in ("python3.12", "python3.12-config", "python3"):
            (directory / name).write_text("")
            (directory / name).chmod(0o755)
    found = path_candidates(f"{first}:{second}:{tmp_path / 'missing'}")
    assert found == {"3.12": str(first / "python3.12")}
