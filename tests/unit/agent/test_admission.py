"""Forged boot orders are refused before the agent touches a file: ids, bundle, image."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from berth.v1 import build_pb2, bus_pb2
from services.agent.admission import Admission
from services.builder import docker_build
from services.common import ids

IMAGE_ID = hashlib.sha256(b"image").hexdigest()
BUNDLE_ID = hashlib.sha256(b"bundle").hexdigest()


def process_image(images: Path, **overrides: object) -> build_pb2.BuiltImage:
    """What services/builder/process_build.py describes for an image under `images`."""
    root = images.resolve() / IMAGE_ID
    fields: dict[str, object] = {
        "image_id": IMAGE_ID,
        "python": str(root / "venv" / "bin" / "python"),
        "root": str(root),
        "workdir": str(root / "fs" / "root"),
        "python_path": [str(root / "fs" / "root" / "src")],
    }
    fields.update(overrides)
    return build_pb2.BuiltImage(**fields)  # type: ignore[arg-type]


def docker_image(**overrides: object) -> build_pb2.BuiltImage:
    fields: dict[str, object] = {
        "image_id": IMAGE_ID,
        "python": docker_build.CONTAINER_PYTHON,
        "docker_tag": docker_build.image_tag(IMAGE_ID),
        "workdir": "/root",
        "python_path": ["/root/src"],
    }
    fields.update(overrides)
    return build_pb2.BuiltImage(**fields)  # type: ignore[arg-type]


def order(image: build_pb2.BuiltImage, **overrides: object) -> bus_pb2.BootOrder:
    fields: dict[str, object] = {
        "container_id": "c0123456789ab",
        "bundle_id": BUNDLE_ID,
        "entry_module": "app.py",
        "pool": bus_pb2.PoolKey(app="live.hello", function="f", version=1),
        "image": image,
        "env": {"AUTH_TOKEN": "s3cret"},
    }
    fields.update(overrides)
    return bus_pb2.BootOrder(**fields)  # type: ignore[arg-type]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    (root / IMAGE_ID / "venv" / "bin").mkdir(parents=True)
    (root / IMAGE_ID / "fs" / "root" / "src").mkdir(parents=True)
    return root


def test_orders_as_the_scheduler_and_builder_make_them_pass(images: Path) -> None:
    Admission("process", images).boot(order(process_image(images)))
    Admission("process", images).boot(order(process_image(images, workdir="", python_path=[])))
    Admission("docker", images).boot(order(docker_image()))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"container_id": "../../escape"}, "container id"),
        ({"container_id": "/tmp/abs"}, "container id"),
        ({"container_id": ""}, "container id"),
        ({"bundle_id": "../../etc"}, "bundle id"),
        ({"bundle_id": "/etc"}, "bundle id"),
        ({"entry_module": "../../../etc/x.py"}, "entry module"),
        ({"entry_module": "/etc/x.py"}, "entry module"),
        ({"pool": bus_pb2.PoolKey(app="live.>")}, "app key"),
    ],
)
def test_bad_ids_are_refused(images: Path, overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ids.InvalidId) as caught:
        Admission("process", images).boot(order(process_image(images), **overrides))
    assert caught.value.field == field


@pytest.mark.parametrize(
    "python",
    [
        "/bin/sh",
        "/usr/bin/python3",
        "python3",
        "",
        "{root}/venv/bin/../../../../bin/sh",
        "{root}/venv/bin/python3",
    ],
)
def test_process_runtime_runs_only_the_interpreter_of_the_named_image(images: Path, python: str) -> None:
    root = images.resolve() / IMAGE_ID
    image = process_image(images, python=python.format(root=root))
    with pytest.raises(ids.InvalidId, match="image python"):
        Admission("process", images).boot(order(image))


def test_process_image_ids_are_checked_before_they_name_a_directory(images: Path) -> None:
    python = str(images.resolve().parent / "venv" / "bin" / "python")
    with pytest.raises(ids.InvalidId, match="image id"):
        Admission("process", images).boot(order(process_image(images, image_id="..", python=python)))


def test_an_image_directory_linked_elsewhere_is_refused(images: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "bin"
    elsewhere.mkdir(parents=True)
    (images / IMAGE_ID / "venv" / "bin").rmdir()
    (images / IMAGE_ID / "venv" / "bin").symlink_to(elsewhere)
    with pytest.raises(ids.InvalidId, match="inside"):
        Admission("process", images).boot(order(process_image(images)))


@pytest.mark.parametrize("field", ["workdir", "python_path"])
@pytest.mark.parametrize(
    "path", ["/etc", "{root}/fs/../../..", "{root}/venv", "relative/dir", "{root}/fs/link"]
)
def test_process_image_paths_stay_inside_the_images_fs(images: Path, field: str, path: str) -> None:
    root = images.resolve() / IMAGE_ID
    (root / "fs" / "link").symlink_to("/etc")
    value = path.format(root=root)
    image = process_image(images, **{field: [value] if field == "python_path" else value})
    with pytest.raises(ids.InvalidId, match=f"image {field}"):
        Admission("process", images).boot(order(image))


@pytest.mark.parametrize(
    "tag",
    [
        "alpine:latest",
        "evil.io/x:latest",
        f"berth-img:{'0' * 32}",
        f"berth-runtime:{IMAGE_ID[:32]}",
        "berth-img",
    ],
)
def test_docker_runtime_runs_only_the_berth_image_of_the_named_id(tag: str) -> None:
    with pytest.raises(ids.InvalidId, match="image"):
        Admission("docker", Path("/nonexistent")).boot(order(docker_image(docker_tag=tag)))


@pytest.mark.parametrize(
    "overrides",
    [{"python": "python3\n"}, {"workdir": "/a/../../b"}, {"python_path": ["rel"]}, {"image_id": "x"}],
)
def test_docker_image_paths_are_plain_absolute_paths(overrides: dict[str, object]) -> None:
    with pytest.raises(ids.InvalidId):
        Admission("docker", Path("/nonexistent")).boot(order(docker_image(**overrides)))


def test_a_process_image_on_the_docker_runtime_is_left_to_the_runtimes_advice() -> None:
    # No tag: run_params refuses it naming --runtime docker; it never reaches the engine.
    Admission("docker", Path("/nonexistent")).boot(
        order(docker_image(docker_tag="", python="/usr/bin/python3"))
    )


async def test_what_the_process_builder_describes_is_admitted(tmp_path: Path) -> None:
    """The contract with services/builder/process_build.py: a cached image, described as a Build answers."""
    from berth.v1 import spec_pb2
    from services.builder import cache
    from services.builder.process_build import ProcessBuilder
    from services.builder.runtime_layer import RuntimeLayers

    home = tmp_path / "home"
    spec = spec_pb2.ImageSpec(
        steps=[
            spec_pb2.ImageStep(workdir="/root/app"),
            spec_pb2.ImageStep(add_files=spec_pb2.AddFiles(remote_path="../src", python_path=True)),
        ]
    )
    builder = ProcessBuilder(home, RuntimeLayers(home))  # a cache hit builds nothing
    image_id = builder.identify(spec)[0]
    root = home / "images" / image_id
    root.mkdir(parents=True)
    cache.mark_complete(root, image_id)
    built = await builder.build(spec, on_line=print)
    assert built.cache_hit and built.workdir and built.python_path
    Admission("process", home / "images").boot(order(built))


def test_a_foreign_tag_is_refused_on_the_process_runtime_too(images: Path) -> None:
    with pytest.raises(ids.InvalidId, match="Berth-built image"):
        Admission("process", images).boot(order(process_image(images, docker_tag="alpine:latest")))
