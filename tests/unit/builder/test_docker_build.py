"""Pure parts of Docker builds: tags, Dockerfiles, declarations, uv arguments, the host's apt mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.v1 import spec_pb2
from services.builder import base_image, docker_build
from services.builder.errors import InvalidSpec


def _spec(*steps: spec_pb2.ImageStep) -> spec_pb2.ImageSpec:
    return spec_pb2.ImageSpec(steps=list(steps))


def test_tags_are_short_content_addresses() -> None:
    image_id = "ab" * 32
    assert docker_build.image_tag(image_id) == "berth-img:" + "ab" * 16
    assert docker_build.runtime_tag("cd" * 32) == "berth-runtime:" + "cd" * 16
    assert base_image.BaseImage().tag == "berth-base:bookworm-py3.11"


def test_python_platform_matches_the_base_images_glibc() -> None:
    assert docker_build.python_platform("x86_64") == "x86_64-manylinux_2_36"
    assert docker_build.python_platform("arm64") == "aarch64-manylinux_2_36"


def test_declarations_are_image_paths() -> None:
    spec = _spec(
        spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars={"A": "1"})),
        spec_pb2.ImageStep(workdir="/root"),
        spec_pb2.ImageStep(workdir="app"),
        spec_pb2.ImageStep(add_files=spec_pb2.AddFiles(remote_path="pkg", python_path=True)),
        spec_pb2.ImageStep(add_files=spec_pb2.AddFiles(remote_path="/srv/data")),
    )
    declared = docker_build.declarations(spec)
    assert declared.env == {"A": "1"}
    assert declared.workdir == "/root/app"
    assert declared.python_path == ["/root/app/pkg"]


def test_env_line_quotes_values_verbatim() -> None:
    line = docker_build.env_line({"B": 'say "hi" to $HOME', "A": "back\\slash"})
    assert line == 'ENV A="back\\\\slash" B="say \\"hi\\" to \\$HOME"'


def test_env_line_rejects_bad_names_and_leaves_multiline_values_to_launch() -> None:
    with pytest.raises(InvalidSpec, match="not a valid environment variable name"):
        docker_build.env_line({"A B": "x"})
    assert docker_build.env_line({"A": "1", "M": "two\nlines"}) == 'ENV A="1"'


def test_image_dockerfile_layers_packages_files_env_and_workdir() -> None:
    text = docker_build.image_dockerfile(
        "berth-runtime:x", has_site=True, has_files=True, env={"A": "1"}, workdir="/root/app"
    )
    lines = text.splitlines()
    assert lines[0] == "FROM berth-runtime:x"
    assert lines[1] == "COPY site/ /opt/berth/site/"
    assert lines[2] == "COPY fs/ /"
    assert lines[3].startswith('ENV A="1" PATH="/opt/berth/site/bin:')
    assert lines[4] == "WORKDIR /root/app"


def test_image_dockerfile_without_steps_runs_in_the_code_dir() -> None:
    text = docker_build.image_dockerfile(
        "berth-runtime:x", has_site=False, has_files=False, env={}, workdir=""
    )
    assert "COPY" not in text
    assert text.rstrip().endswith("WORKDIR /berth/code")


def test_runtime_dockerfile_adds_the_layer_and_its_pth() -> None:
    text = docker_build.runtime_dockerfile("berth-base:bookworm-py3.11", "3.11")
    assert text.splitlines() == [
        "FROM berth-base:bookworm-py3.11",
        "COPY runtime/ /opt/berth/runtime/",
        "COPY berth.pth /usr/local/lib/python3.11/dist-packages/berth.pth",
        "RUN ln -sf /usr/bin/python3 /usr/local/bin/python",
    ]
    # User packages come first, so a user's own versions win over the runner's.
    pth = docker_build.pth_text()
    assert pth.startswith("import site;") and pth.index("/opt/berth/site") < pth.index("/opt/berth/runtime")


def test_fix_shebangs_points_scripts_at_the_images_python(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"#!/home/me/.venv/bin/python3\nimport x\n")
    long_form = b"#!/bin/sh\n'''exec' \"/very/long/path/bin/python\" \"$0\" \"$@\"\n' '''\nimport y\n"
    (tmp_path / "long").write_bytes(long_form)
    (tmp_path / "shell").write_bytes(b"#!/bin/sh\necho hi\n")
    docker_build.fix_shebangs(tmp_path)
    assert (tmp_path / "plain").read_bytes() == b"#!/usr/bin/python3\nimport x\n"
    assert (tmp_path / "long").read_bytes() == b"#!/usr/bin/python3\nimport y\n"
    assert (tmp_path / "shell").read_bytes() == b"#!/bin/sh\necho hi\n"


def test_uv_installs_for_the_images_python_and_platform(tmp_path: Path) -> None:
    args = docker_build.uv_install_args(tmp_path / "site", ["six"], base_image.BaseImage())
    assert args[:4] == ["pip", "install", "--target", str(tmp_path / "site")]
    assert args[args.index("--python-version") + 1] == "3.11"
    assert args[args.index("--python-platform") + 1].endswith("-manylinux_2_36")
    assert args[-1] == "six"


def test_mirror_from_one_line_and_deb822_sources() -> None:
    one_line = "# comment\ndeb [arch=amd64] http://mirror.example/debian/ bookworm main\n"
    assert base_image.mirror_from_sources([one_line]) == "http://mirror.example/debian"
    deb822 = (
        "Types: deb\nURIs: http://deb.example/debian\nSuites: bookworm bookworm-updates\n\n"
        "Types: deb\nURIs: http://security.example\nSuites: bookworm-security\n"
    )
    assert (
        base_image.mirror_from_sources(["deb http://x/ trixie main\n", deb822]) == "http://deb.example/debian"
    )
    assert base_image.mirror_from_sources([]) == base_image.DEFAULT_MIRROR


def test_debootstrap_argv_is_minbase_with_python() -> None:
    argv = base_image.debootstrap_argv(Path("/tmp/root"), "http://m/debian")
    assert argv == [
        "debootstrap",
        "--variant=minbase",
        "--include=python3,python3-venv,ca-certificates",
        "bookworm",
        "/tmp/root",
        "http://m/debian",
    ]


def test_a_registry_images_probe_makes_its_root() -> None:
    output = "3 12\n/usr/local/bin/python3\n/usr/local/lib/python3.12/site-packages\nglibc 2.36\n"
    root = docker_build.parse_probe("python:3.12-slim", "sha256:abc", output, "/usr/local/bin:/usr/bin")
    assert (root.python, root.python_bin, root.glibc, root.registry) == (
        "3.12",
        "/usr/local/bin/python3",
        "2_36",
        True,
    )
    text = docker_build.root_dockerfile(root)
    assert "COPY berth.pth /usr/local/lib/python3.12/site-packages/berth.pth" in text
    assert "command -v python" in text, "a registry image keeps its own `python`"
    args = docker_build.uv_install_args(Path("/t"), [], root)
    assert args[args.index("--python-version") + 1] == "3.12" and "--compile-bytecode" not in args
    dockerfile = docker_build.image_dockerfile(
        "x", has_site=False, has_files=False, env={}, workdir="", path=root.path
    )
    assert 'PATH="/opt/berth/site/bin:/usr/local/bin:/usr/bin"' in dockerfile


@pytest.mark.parametrize(
    ("output", "message"),
    [
        ("3 10\n/usr/bin/python3\n/usr/lib/python3/dist-packages\nglibc 2.31\n", "3.10; Berth needs 3.11"),
        ("3 12\n/usr/bin/python3\n/usr/lib/python3.12/site-packages\n \n", "not built on glibc"),
        ("sh: python3: not found\n", "did not say what it is"),
    ],
)
def test_registry_images_without_a_usable_python_are_refused(output: str, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        docker_build.parse_probe("img:1", "sha256:abc", output, "")
