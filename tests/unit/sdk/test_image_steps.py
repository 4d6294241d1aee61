"""Image build steps in the SDK: what each method records in the spec, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

import berth
from berth.exception import InvalidError, NotFoundError, NotSupportedError


def _steps(image: berth.Image) -> list:
    return list(image.to_spec().steps)


def test_run_commands_and_apt_install_record_their_steps_in_order() -> None:
    image = berth.Image.debian_slim().apt_install("jq", ["tree"]).run_commands("echo a", ["echo b", "echo c"])
    steps = _steps(image)
    assert list(steps[0].apt_install.packages) == ["jq", "tree"]
    assert list(steps[1].run_commands.commands) == ["echo a", "echo b", "echo c"]


def test_apt_install_refuses_what_is_not_a_package_name() -> None:
    with pytest.raises(InvalidError, match="not a Debian package name"):
        berth.Image.debian_slim().apt_install("-o=Dpkg::x")


@pytest.mark.parametrize("method", ["run_commands", "apt_install", "pip_install", "uv_pip_install"])
def test_build_step_secrets_are_refused_clearly(method: str) -> None:
    with pytest.raises(NotSupportedError, match=rf"{method}\(secrets=...\).*secrets=\[...\]"):
        getattr(berth.Image.debian_slim(), method)("x", secrets=[berth.Secret.from_name("s")])


def test_uv_pip_install_is_a_pip_step_with_its_options() -> None:
    image = berth.Image.debian_slim().uv_pip_install(
        "six", index_url="https://pypi.org/simple", extra_index_url="https://x.example/s", pre=True
    )
    (step,) = _steps(image)
    assert list(step.pip_install.packages) == ["six"]
    assert list(step.pip_install.extra_args) == [
        "--index-url",
        "https://pypi.org/simple",
        "--extra-index-url",
        "https://x.example/s",
        "--pre",
    ]


def test_pip_install_extras_reach_the_spec() -> None:
    image = berth.Image.debian_slim().pip_install("six", find_links="/wheels", extra_options="--no-deps")
    assert list(_steps(image)[0].pip_install.extra_args) == ["--find-links", "/wheels", "--no-deps"]


def test_requirements_files_are_read_when_the_spec_is_made(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("idna>=3  # pinned loosely\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# comment\n-r base.txt\n--index-url https://pypi.org/simple\n\nsix==1.16.0 ; python_version >= '3'\n"
        "long-name \\\n  >=1\n"
    )
    image = berth.Image.debian_slim().pip_install_from_requirements(requirements, pre=True)
    requirements.write_text("changed\n")  # read at to_spec(), so this wins
    assert list(_steps(image)[0].pip_install.packages) == ["changed"]
    requirements.write_text("-r base.txt\n--index-url https://pypi.org/simple\nsix==1.16.0\n")
    (step,) = _steps(image)
    assert list(step.pip_install.packages) == ["idna>=3", "six==1.16.0"]
    assert list(step.pip_install.extra_args) == ["--index-url", "https://pypi.org/simple", "--pre"]
    uv = berth.Image.debian_slim().uv_pip_install("tomli-w", requirements=[requirements])
    assert [list(s.pip_install.packages) for s in _steps(uv)] == [["idna>=3", "six==1.16.0"], ["tomli-w"]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-e ./lib\n", "editable installs and constraint files are not supported"),
        ("six==1 --hash=sha256:abc\n", "per-line options"),
        ("-r self.txt\n", "includes itself"),
    ],
)
def test_requirements_lines_that_cannot_be_honoured_are_refused(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "self.txt"
    path.write_text(text)
    with pytest.raises(InvalidError, match=message):
        berth.Image.debian_slim().pip_install_from_requirements(path).to_spec()


def test_a_missing_requirements_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="nope.txt"):
        berth.Image.debian_slim().pip_install_from_requirements(tmp_path / "nope.txt").to_spec()


def test_from_registry_records_the_tag_and_refuses_what_it_cannot_honour() -> None:
    spec = berth.Image.from_registry("python:3.12-slim").apt_install("jq").to_spec()
    assert spec.registry_tag == "python:3.12-slim" and spec.steps[0].apt_install.packages == ["jq"]
    with pytest.raises(NotSupportedError, match="add_python"):
        berth.Image.from_registry("ubuntu:24.04", add_python="3.12")
    with pytest.raises(NotSupportedError, match="docker pull"):
        berth.Image.from_registry("private/x:1", secret=berth.Secret.from_name("registry"))
    with pytest.raises(InvalidError, match="image reference"):
        berth.Image.from_registry("two words")


def test_imports_tolerates_missing_packages_locally_only() -> None:
    image = berth.Image.debian_slim()
    with image.imports():
        import berth_package_that_is_not_here  # noqa: F401
    with pytest.raises(ZeroDivisionError), image.imports():
        1 / 0  # noqa: B018 - other errors are not swallowed
