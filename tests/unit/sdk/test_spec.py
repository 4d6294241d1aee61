"""AppSpec building for the conformance apps and the project's examples."""

import importlib.util
import itertools
from pathlib import Path
from types import ModuleType

import pytest

import berth
from berth._spec import build_app_spec, find_app
from berth.v1 import spec_pb2

ROOT = Path(__file__).resolve().parents[3]
CONFORMANCE = ROOT.parent / "shared" / "conformance" / "apps"
EXAMPLES = ROOT / "examples"
_counter = itertools.count()


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_spec_test_{next(_counter)}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _spec(path: Path) -> spec_pb2.AppSpec:
    return build_app_spec(find_app(_load(path)), entry_module=path.name)


CONFORMANCE_FILES = sorted(CONFORMANCE.glob("*.py")) if CONFORMANCE.is_dir() else []


@pytest.mark.skipif(not CONFORMANCE_FILES, reason="no ../shared/conformance/apps")
@pytest.mark.parametrize("path", CONFORMANCE_FILES, ids=lambda p: p.stem)
def test_conformance_app_spec(path: Path) -> None:
    spec = _spec(path)
    assert spec.functions, "every conformance app has a web function"
    for fn in spec.functions:
        assert fn.web.kind != spec_pb2.WEB_KIND_UNSPECIFIED
        assert fn.scaling.timeout == 300 and fn.scaling.scaledown_window == 60
    assert spec.SerializeToString(deterministic=True) == _spec(path).SerializeToString(deterministic=True)


@pytest.mark.skipif(not CONFORMANCE_FILES, reason="no ../shared/conformance/apps")
def test_conformance_details() -> None:
    by_stem = {p.stem: _spec(p) for p in CONFORMANCE_FILES}
    param = by_stem["param_server"].functions[0]
    assert (param.name, param.object_name, param.method_name) == ("Server.files", "Server", "files")
    assert param.web.port == 8000 and param.web.startup_timeout == 5.0
    assert param.scaling.max_inputs == 100
    assert [(p.name, p.type, p.has_default, p.default) for p in param.parameters] == [
        ("root", spec_pb2.PARAM_TYPE_STR, True, ".")
    ]
    auth = by_stem["bearer_auth"].functions[0]
    assert list(auth.secret_names) == ["my-web-auth-token"]
    assert by_stem["client_ip"].name == ""
    assert by_stem["square_post"].functions[0].web.method == "POST"


@pytest.mark.parametrize(
    "name, kind",
    [
        ("hello", spec_pb2.WEB_KIND_FASTAPI_ENDPOINT),
        ("square", spec_pb2.WEB_KIND_FASTAPI_ENDPOINT),
        ("echo_asgi", spec_pb2.WEB_KIND_ASGI_APP),
        ("echo_wsgi", spec_pb2.WEB_KIND_WSGI_APP),
        ("params", spec_pb2.WEB_KIND_FASTAPI_ENDPOINT),
    ],
)
def test_example_specs(name: str, kind: int) -> None:
    spec = _spec(EXAMPLES / f"{name}.py")
    assert spec.entry_module == f"{name}.py"
    assert [f.web.kind for f in spec.functions] == [kind]
    assert spec.functions[0].image.steps[0].pip_install.packages


def test_params_example_defaults() -> None:
    fn = _spec(EXAMPLES / "params.py").functions[0]
    assert fn.name == "Greeter.greet"
    assert [(p.name, p.default) for p in fn.parameters] == [("greeting", "Hello"), ("excited", "false")]


SECRETS_APP = """
import berth

app = berth.App("s", secrets=[berth.Secret.from_name("a"), berth.Secret.from_dict({"K": "app"})])


@app.function(secrets=[berth.Secret.from_name("b")], env={"E": "1"}, min_containers=1, cpu=0.5, memory=256)
@berth.concurrent(max_inputs=8, target_inputs=4)
@berth.fastapi_endpoint()
def web():
    return "x"


@app.function()
def plain():
    pass
"""


def test_secrets_env_and_plain_functions(tmp_path: Path) -> None:
    path = tmp_path / "s.py"
    path.write_text(SECRETS_APP)
    web_spec, plain_spec = _spec(path).functions
    assert list(web_spec.secret_names) == ["a", "b"]
    assert dict(web_spec.env) == {"E": "1", "K": "app"}
    s = web_spec.scaling
    assert (s.max_inputs, s.target_inputs, s.min_containers, s.cpu, s.memory_mib) == (8, 4, 1, 0.5, 256)
    assert plain_spec.web.kind == spec_pb2.WEB_KIND_UNSPECIFIED and plain_spec.scaling.max_inputs == 1


def test_functions_must_be_module_level() -> None:
    app = berth.App()

    @app.function()
    def inner() -> None: ...

    with pytest.raises(berth.InvalidError, match="not defined at module level"):
        build_app_spec(app, entry_module="x.py")


def test_find_app_errors() -> None:
    module = ModuleType("empty")
    with pytest.raises(berth.InvalidError, match="No berth.App found"):
        find_app(module)
    module.a, module.b = berth.App(), berth.App()  # type: ignore[attr-defined]
    with pytest.raises(berth.InvalidError, match="several"):
        find_app(module)
