from pathlib import Path

from services.builder.runtime_layer import (
    RUNNER_DISTRIBUTIONS,
    SEED_PACKAGES,
    layer_id,
    package_files,
    requirements,
)


def _package(root: Path) -> Path:
    for rel, text in {
        "__init__.py": "",
        "_runtime/__init__.py": "",
        "cli/main.py": "",
        "__pycache__/x.cpython-311.pyc": "",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_requirements_pin_host_versions_and_seed_pip_and_setuptools() -> None:
    pinned = [f"{name}==1.0" for name in RUNNER_DISTRIBUTIONS]
    assert requirements(lambda name: "1.0") == [*pinned, "pip", "setuptools<81"]
    assert SEED_PACKAGES == ("pip", "setuptools<81"), "setuptools 81 dropped pkg_resources"


def test_package_files_skip_cli_and_caches(tmp_path: Path) -> None:
    root = _package(tmp_path)
    assert [p.relative_to(root).as_posix() for p in package_files(root)] == [
        "__init__.py",
        "_runtime/__init__.py",
    ]


def test_layer_id_follows_requirements_python_and_sdk_content(tmp_path: Path) -> None:
    root = _package(tmp_path)
    base = layer_id(["a==1"], "3.11", root)
    assert layer_id(["a==1"], "3.11", root) == base
    assert layer_id(["a==2"], "3.11", root) != base
    assert layer_id(["a==1"], "3.12", root) != base
    (root / "cli" / "main.py").write_text("changed")  # not copied, so not hashed
    assert layer_id(["a==1"], "3.11", root) == base
    (root / "_runtime" / "__init__.py").write_text("changed")
    assert layer_id(["a==1"], "3.11", root) != base
