"""What the agent accepts from the bus, checked before any value in an order becomes a path, a
subject or a Docker argument.

Anyone who can publish on the agent's subjects could otherwise pick the directory the agent writes
a boot file to (or removes: a failed boot deletes its state dir), the bundle it extracts, the
interpreter it executes and the Docker image it runs. So every id must have the exact format its
producer gives it (services.common.ids), and the image must be one the builder made: on the
process runtime an interpreter and directories inside `<home>/images/<image id>/`, on the Docker
runtime a `berth-img:` tag of that image id.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from berth.v1 import build_pb2, bus_pb2
from services.common import ids

# Where services/builder/process_build.py puts an image's interpreter and its file system under the root.
_VENV_PYTHON = ("venv", "bin", "python")
_IMAGE_FS = "fs"


@dataclass(frozen=True)
class Admission:
    runtime: str  # "process" or "docker"
    images: Path  # the builder's process-runtime images, `<home>/images`

    def boot(self, order: bus_pb2.BootOrder) -> None:
        """Raises ids.InvalidId naming the first field of `order` that is not acceptable."""
        ids.container_id(order.container_id)
        ids.bundle_id(order.bundle_id)
        ids.app_key(order.pool.app)  # becomes the log subject berth.logs.<app key>
        ids.relative_path(order.entry_module, "entry module")  # a file inside the bundle
        # Only the Docker runtime runs the tag, but a foreign one is a forged order on any runtime.
        if order.image.docker_tag:
            _docker_tag(order.image)
        if self.runtime == "docker":
            _docker_image(order.image)
        else:
            _process_image(order.image, self.images)


def _process_image(image: build_pb2.BuiltImage, images: Path) -> None:
    root = images.resolve() / ids.image_id(image.image_id)
    expected = str(root.joinpath(*_VENV_PYTHON))
    if image.python != expected:
        raise ids.InvalidId(
            "image python", image.python, f"the interpreter of a Berth-built image ({expected})"
        )
    # The interpreter itself is a symlink to the host's Python, so only its directory is resolved:
    # an image directory that is a symlink to elsewhere is refused.
    _inside(Path(expected).parent, images, "image python", image.python)
    fs = root / _IMAGE_FS
    if image.workdir:
        _inside(Path(ids.absolute_path(image.workdir, "image workdir")), fs, "image workdir", image.workdir)
    for entry in image.python_path:
        _inside(Path(ids.absolute_path(entry, "image python_path")), fs, "image python_path", entry)


def _inside(path: Path, root: Path, field: str, value: str) -> None:
    if not path.resolve().is_relative_to(root.resolve()):
        raise ids.InvalidId(field, value, f"a path inside {root}")


def _docker_tag(image: build_pb2.BuiltImage) -> None:
    ids.docker_image_tag(image.docker_tag)
    if image.docker_tag != f"{ids.DOCKER_IMAGE_REPO}:{ids.image_id(image.image_id)[:32]}":
        raise ids.InvalidId("image", image.docker_tag, f"the tag of image {image.image_id}")


def _docker_image(image: build_pb2.BuiltImage) -> None:
    # An empty tag (an image built for the process runtime) is left to the runtime, which refuses
    # it with advice on the scheduler's --runtime; it never reaches the Docker engine.
    # These name paths inside the container, never on the host; still no `..` or control characters.
    ids.absolute_path(image.python, "image python")
    if image.workdir:
        ids.absolute_path(image.workdir, "image workdir")
    for entry in image.python_path:
        ids.absolute_path(entry, "image python_path")
