"""Hosted-service names Berth does not implement: a NotSupportedError naming the feature and the
alternative, on the module, the classes and their instances; other names stay AttributeErrors."""

from __future__ import annotations

import copy
import pickle
from typing import Any

import pytest

import berth
import berth as modal
from berth._compat import HOSTED_NAMES
from berth.exception import NotSupportedError


@pytest.fixture
def function() -> Any:
    app = modal.App("compat")

    @app.function()
    def f(x: int) -> int:
        return x + 1

    return f


def _raises(get: Any) -> NotSupportedError:
    with pytest.raises(NotSupportedError) as info:
        get()
    return info.value


def test_function_calls_name_the_feature_and_the_way_out(function: Any) -> None:
    for name in ("spawn_map", "lookup"):
        error = _raises(lambda name=name: getattr(function, name))
        assert f"Function.{name}" in str(error) and "is not supported by Berth" in str(error)
    assert function.local(1) == 2 and function(1) == 2  # what exists still works


def test_class_level_lookups() -> None:
    assert "Function.lookup" in str(_raises(lambda: modal.Function.lookup))
    assert "Cls.lookup" in str(_raises(lambda: modal.Cls.lookup))
    error = _raises(lambda: modal.Image.from_dockerfile("Dockerfile"))
    assert "Image.from_dockerfile" in str(error) and "debian_slim" in str(error)


def test_image_methods() -> None:
    image = modal.Image.debian_slim()
    conda = _raises(lambda: image.micromamba_install("numpy"))
    assert conda.feature.startswith("conda packages") and "pip_install" in conda.advice
    assert "Image.dockerfile_commands" in str(_raises(lambda: image.dockerfile_commands("RUN true")))
    assert image.pip_install("six").steps  # what exists still works


def test_app_and_module_names() -> None:
    assert "App.run" in str(_raises(lambda: modal.App().run))
    assert "berth.Volume" in str(_raises(lambda: modal.Volume.from_name("v")))
    assert "Secret.from_dotenv" in str(_raises(lambda: modal.Secret.from_dotenv()))


def test_from_import_keeps_the_message() -> None:
    # An AttributeError would turn into a bare "cannot import name"; this must not.
    with pytest.raises(NotSupportedError, match=r"distributed queues \(berth.Queue\)"):
        from berth import Queue  # noqa: F401


def test_every_listed_name_raises_with_its_feature() -> None:
    owners: dict[str, Any] = {
        "berth": berth,
        "berth.experimental": berth.experimental,
        "App": berth.App,
        "Function": berth.Function,
        "Cls": berth.Cls,
        "Image": berth.Image,
        "Secret": berth.Secret,
    }
    for owner, names in HOSTED_NAMES.items():  # raising proves no real attribute shadows the entry
        for name, (feature, advice) in names.items():
            error = _raises(lambda owner=owner, name=name: getattr(owners[owner], name))
            assert str(error) == f"{feature} is not supported by Berth: {advice}"
            assert isinstance(error, berth.Error)


def test_unknown_names_stay_attribute_errors(function: Any) -> None:
    with pytest.raises(AttributeError, match="no attribute 'no_such_thing'"):
        berth.no_such_thing  # noqa: B018
    with pytest.raises(AttributeError):
        function.no_such_thing  # noqa: B018
    with pytest.raises(AttributeError):
        berth.Image.no_such_thing  # noqa: B018
    assert not hasattr(berth.Image.debian_slim(), "__deepcopy__")
    image = berth.Image.debian_slim().pip_install("six")
    assert copy.deepcopy(image) == image and pickle.loads(pickle.dumps(image)) == image


def test_exception_module_is_the_hosted_one() -> None:
    assert modal.exception.NotFoundError is berth.NotFoundError
    assert modal.exception.InvalidError is berth.InvalidError
    assert berth.NotSupportedError is NotSupportedError
