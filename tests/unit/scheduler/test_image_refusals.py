"""Image steps the process runtime cannot honour are refused at deploy, before any build: one line
naming the function, the step and the Docker runtime; the Docker runtime accepts them."""

from __future__ import annotations

import pytest

from berth.v1 import spec_pb2
from services.scheduler import spec_checks
from services.scheduler.spec_checks import UnsupportedHere

HINT = "use the Docker runtime (`BERTH_RUNTIME=docker berth up`)"


def _app(image: spec_pb2.ImageSpec, *, web: bool = True) -> spec_pb2.AppSpec:
    kind = spec_pb2.WEB_KIND_FASTAPI_ENDPOINT if web else spec_pb2.WEB_KIND_UNSPECIFIED
    function = spec_pb2.FunctionSpec(name="handler", image=image, web=spec_pb2.WebSpec(kind=kind))
    return spec_pb2.AppSpec(name="a", functions=[function])


def _files(remote_path: str, *, python_path: bool = False) -> spec_pb2.ImageStep:
    return spec_pb2.ImageStep(add_files=spec_pb2.AddFiles(remote_path=remote_path, python_path=python_path))


@pytest.mark.parametrize(
    ("image", "shown"),
    [
        (
            spec_pb2.ImageSpec(steps=[spec_pb2.ImageStep(apt_install=spec_pb2.AptInstall(packages=["jq"]))]),
            "apt_install(jq)",
        ),
        (
            spec_pb2.ImageSpec(
                steps=[spec_pb2.ImageStep(run_commands=spec_pb2.RunCommands(commands=["make"]))]
            ),
            "run_commands('make')",
        ),
        (spec_pb2.ImageSpec(registry_tag="python:3.12-slim"), "from_registry('python:3.12-slim')"),
        (spec_pb2.ImageSpec(steps=[_files("/assets")]), "'/assets'"),
    ],
)
@pytest.mark.parametrize("web", [True, False])
def test_the_process_runtime_refuses_steps_that_need_an_image_root(
    image: spec_pb2.ImageSpec, shown: str, web: bool
) -> None:
    with pytest.raises(UnsupportedHere) as refused:
        spec_checks.check(_app(image, web=web), runtime="process")
    message = str(refused.value)
    assert message.startswith("function 'handler': ") and shown in message and HINT in message
    assert "\n" not in message
    spec_checks.check(_app(image, web=web), runtime="docker")


def test_files_the_process_runtime_can_show_are_accepted() -> None:
    image = spec_pb2.ImageSpec(steps=[_files("assets"), _files("/root", python_path=True)])
    spec_checks.check(_app(image), runtime="process")
