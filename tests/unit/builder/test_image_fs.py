from pathlib import Path

import pytest

from berth.v1 import spec_pb2
from services.builder import image_fs
from services.builder.errors import InvalidSpec
from services.builder.process_build import declarations


def test_image_paths_map_under_fs_and_never_escape(tmp_path: Path) -> None:
    assert image_fs.host_path(tmp_path, "/root/app") == tmp_path / "root" / "app"
    assert image_fs.image_path("app", cwd="/root") == "/root/app"
    assert image_fs.image_path("../../../etc", cwd="/root") == "/etc"
    assert image_fs.host_path(tmp_path, "/../x") == tmp_path / "x"


def test_add_files_writes_with_modes(tmp_path: Path) -> None:
    step = spec_pb2.AddFiles(
        remote_path="/root/src",
        files=[
            spec_pb2.ImageFile(path="pkg/__init__.py", content=b"x = 1\n", mode=0o600),
            spec_pb2.ImageFile(path="run.sh", content=b"#!/bin/sh\n", mode=0o755),
            spec_pb2.ImageFile(path="plain.txt", content=b"hi"),
        ],
    )
    base = image_fs.write_files(tmp_path, step, cwd="/")
    assert base == tmp_path / "root" / "src"
    assert (base / "pkg" / "__init__.py").read_bytes() == b"x = 1\n"
    assert (base / "pkg" / "__init__.py").stat().st_mode & 0o777 == 0o600
    assert (base / "run.sh").stat().st_mode & 0o777 == 0o755
    assert (base / "plain.txt").stat().st_mode & 0o777 == image_fs.DEFAULT_FILE_MODE


def test_declarations_follow_step_order(tmp_path: Path) -> None:
    spec = spec_pb2.ImageSpec(
        steps=[
            spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars={"A": "1", "B": "1"})),
            spec_pb2.ImageStep(workdir="/root"),
            spec_pb2.ImageStep(workdir="app"),
            spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars={"B": "2"})),
            spec_pb2.ImageStep(add_files=spec_pb2.AddFiles(remote_path="src", python_path=True)),
        ]
    )
    declared = declarations(spec, tmp_path)
    assert declared.env == {"A": "1", "B": "2"}
    assert declared.workdir == "/root/app"
    assert declared.python_path == [str(tmp_path / "root" / "app" / "src")]
    assert not any(tmp_path.iterdir()), "declarations write nothing"


def test_control_characters_in_image_paths_are_an_invalid_spec(tmp_path: Path) -> None:
    for bad in ("/root\nRUN touch /pwned", "app\x00", "a\rb"):
        with pytest.raises(InvalidSpec, match="control character"):
            image_fs.image_path(bad)
    step = spec_pb2.AddFiles(remote_path="/src", files=[spec_pb2.ImageFile(path="x\x00.py", content=b"")])
    with pytest.raises(InvalidSpec):
        image_fs.write_files(tmp_path, step, cwd="/")
    assert not any(tmp_path.rglob("x*"))
