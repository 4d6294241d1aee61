"""Importing an app file for `berth deploy`, the errors it reports, and the source bundle."""

import io
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import berth
from berth.cli.loading import bundle, load_app_file

APP = "import berth\n\napp = berth.App('demo')\n"


@pytest.fixture(autouse=True)
def restore_modules() -> Iterator[None]:
    """load_app_file registers the app (and what it imports) in sys.modules: undo that."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


@pytest.fixture
def stem(tmp_path: Path) -> str:
    """A module name no other test uses, since the app registers under its file's stem."""
    return "app_" + "".join(c if c.isalnum() else "_" for c in tmp_path.name)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_loads_the_app(tmp_path: Path, stem: str) -> None:
    path = write(tmp_path, f"{stem}.py", APP)
    loaded = load_app_file(path)
    assert isinstance(loaded.app, berth.App) and loaded.app.name == "demo"
    assert loaded.path == path.resolve()
    assert loaded.sources == {f"{stem}.py": APP.encode()}
    assert str(tmp_path) not in sys.path


def test_syntax_error_names_file_and_line(tmp_path: Path, stem: str) -> None:
    path = write(tmp_path, f"{stem}.py", "import berth\n\ndef broken(:\n    pass\n")
    with pytest.raises(berth.InvalidError) as info:
        load_app_file(path)
    message = str(info.value)
    assert "syntax error" in message
    assert f"{stem}.py:3" in message
    assert "def broken(:" in message
    assert str(tmp_path) not in sys.path


def test_import_error_names_the_exception(tmp_path: Path, stem: str) -> None:
    path = write(tmp_path, f"{stem}.py", "import berth\nimport no_such_module_for_berth_tests\n")
    with pytest.raises(berth.InvalidError) as info:
        load_app_file(path)
    message = str(info.value)
    assert f"importing {stem}.py failed" in message
    assert "ModuleNotFoundError" in message and "no_such_module_for_berth_tests" in message


def test_runtime_error_shows_the_user_frame(tmp_path: Path, stem: str) -> None:
    path = write(tmp_path, f"{stem}.py", "import berth\n\n\nraise ValueError('bad config')\n")
    with pytest.raises(berth.InvalidError, match="ValueError: bad config") as info:
        load_app_file(path)
    assert f"{stem}.py" in str(info.value) and "line 4" in str(info.value)


def test_file_without_app(tmp_path: Path, stem: str) -> None:
    path = write(tmp_path, f"{stem}.py", "x = 1\n")
    with pytest.raises(berth.InvalidError, match=rf"No berth.App found in {stem}.*berth\.App\("):
        load_app_file(path)


def test_file_with_two_apps(tmp_path: Path, stem: str) -> None:
    path = write(tmp_path, f"{stem}.py", "import berth\na = berth.App('a')\nb = berth.App('b')\n")
    with pytest.raises(berth.InvalidError, match=r"several berth.App objects \(a, b\)"):
        load_app_file(path)


def test_missing_file_and_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(berth.InvalidError, match="no such file"):
        load_app_file(tmp_path / "absent.py")
    with pytest.raises(berth.InvalidError, match=r"must be a \.py file"):
        load_app_file(write(tmp_path, "app.txt", APP))


def test_sibling_modules_travel_with_the_app(tmp_path: Path, stem: str) -> None:
    write(tmp_path, f"helper_{stem}.py", "GREETING = 'hi'\n")
    write(tmp_path, f"pkg_{stem}/__init__.py", "")
    write(tmp_path, f"pkg_{stem}/util.py", "X = 1\n")
    # Imported lazily, inside a function: it must travel too, though loading never imports it.
    write(tmp_path, "lazy.py", "raise RuntimeError('not imported at load time')\n")
    write(tmp_path, ".venv/lib/site.py", "X = 1\n")
    write(tmp_path, "__pycache__/junk.py", "X = 1\n")
    path = write(tmp_path, f"{stem}.py", f"import helper_{stem}\nimport pkg_{stem}.util\n{APP}")
    loaded = load_app_file(path)
    assert sorted(loaded.sources) == sorted(
        [f"{stem}.py", f"helper_{stem}.py", f"pkg_{stem}/__init__.py", f"pkg_{stem}/util.py", "lazy.py"]
    )
    archive = zipfile.ZipFile(io.BytesIO(bundle(loaded.sources)))
    assert archive.read(f"helper_{stem}.py") == b"GREETING = 'hi'\n"


def test_second_load_in_one_process_still_bundles_siblings(tmp_path: Path, stem: str) -> None:
    write(tmp_path, f"helper_{stem}.py", "GREETING = 'hi'\n")
    path = write(tmp_path, f"{stem}.py", f"import helper_{stem}\n{APP}")
    load_app_file(path)
    assert f"helper_{stem}.py" in load_app_file(path).sources


def test_bundle_is_deterministic() -> None:
    sources = {"app.py": b"print(1)\n", "lib/util.py": b"X = 2\n"}
    reordered = dict(reversed(list(sources.items())))
    assert bundle(sources) == bundle(dict(sources)) == bundle(reordered)
    assert bundle(sources) != bundle({**sources, "app.py": b"print(2)\n"})


def test_bundle_contents() -> None:
    archive = zipfile.ZipFile(io.BytesIO(bundle({"b.py": b"B", "a.py": b"A"})))
    assert archive.namelist() == ["a.py", "b.py"]
    assert archive.read("a.py") == b"A"
    assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in archive.infolist())


@pytest.mark.parametrize("line", ["import modal", "from modal import App", "import modal.exception"])
def test_an_unchanged_import_modal_gets_the_hint(tmp_path: Path, stem: str, line: str) -> None:
    path = write(tmp_path, f"{stem}.py", f"{line}\n\napp = modal.App('demo')\n")
    with pytest.raises(berth.InvalidError) as info:
        load_app_file(path)
    message = str(info.value)
    assert "No module named 'modal" in message
    assert "`import berth as modal`" in message


def test_a_hosted_only_name_fails_the_load_with_its_feature(tmp_path: Path, stem: str) -> None:
    text = "import berth as modal\n\napp = modal.App('demo')\nstore = modal.Dict.from_name('x')\n"
    path = write(tmp_path, f"{stem}.py", text)
    with pytest.raises(berth.InvalidError) as info:
        load_app_file(path)
    assert "NotSupportedError: distributed dicts (berth.Dict) is not supported by Berth" in str(info.value)
