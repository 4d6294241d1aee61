from berth.v1 import spec_pb2
from services.builder.spec_hash import image_id


def _pip(*packages: str) -> spec_pb2.ImageStep:
    return spec_pb2.ImageStep(pip_install=spec_pb2.PipInstall(packages=packages))


def _env(**vars: str) -> spec_pb2.ImageStep:
    return spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars=vars))


def test_same_spec_same_id_whatever_the_map_insertion_order() -> None:
    a = spec_pb2.ImageSpec(steps=[_env(A="1", B="2"), _pip("six")])
    b = spec_pb2.ImageSpec(steps=[_env(B="2", A="1"), _pip("six")])
    assert image_id(a, runtime="process", layer_id="L") == image_id(b, runtime="process", layer_id="L")
    assert len(image_id(a, runtime="process", layer_id="L")) == 64


def test_step_order_changes_the_id() -> None:
    a = spec_pb2.ImageSpec(steps=[_env(A="1"), _pip("six")])
    b = spec_pb2.ImageSpec(steps=[_pip("six"), _env(A="1")])
    assert image_id(a, runtime="process", layer_id="L") != image_id(b, runtime="process", layer_id="L")


def test_runtime_and_layer_change_the_id() -> None:
    spec = spec_pb2.ImageSpec(steps=[_pip("six")])
    base = image_id(spec, runtime="process", layer_id="L1")
    assert image_id(spec, runtime="process", layer_id="L2") != base
    assert image_id(spec, runtime="docker", layer_id="L1") != base


def test_parts_are_delimited() -> None:
    spec = spec_pb2.ImageSpec()
    assert image_id(spec, runtime="ab", layer_id="c") != image_id(spec, runtime="a", layer_id="bc")


def test_python_version_changes_the_id() -> None:
    a = spec_pb2.ImageSpec(python_version="3.11")
    assert image_id(a, runtime="process", layer_id="L") != image_id(
        spec_pb2.ImageSpec(), runtime="process", layer_id="L"
    )
