"""Names real apps written for the hosted service still use: former option names and `Stub` work
with a deprecation warning, region/cloud are accepted and reported, gpu= is refused naming the
function, and `experimental.http_server` is a web server."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest

import berth
from berth._compat import RenamedWarning
from berth._spec import build_app_spec
from berth.cli.deploy import load_with_notices, placement_notice
from berth.v1 import spec_pb2


def fresh(name: str = "endpoint") -> Any:
    """A new function, named as if defined at module level (build_app_spec's rule)."""

    def fn() -> None: ...

    fn.__name__ = fn.__qualname__ = name
    return fn


def top_level(cls: type) -> type:
    cls.__qualname__ = cls.__name__
    return cls


def scaling(app: berth.App) -> spec_pb2.ScalingSpec:
    return build_app_spec(app, entry_module="m.py").functions[0].scaling


@pytest.mark.parametrize(
    "old, new, value, field",
    [
        ("concurrency_limit", "max_containers", 3, "max_containers"),
        ("keep_warm", "min_containers", 2, "min_containers"),
        ("container_idle_timeout", "scaledown_window", 7, "scaledown_window"),
    ],
)
@pytest.mark.parametrize("decorator", ["function", "cls"])
def test_former_option_names_work_and_warn(
    old: str, new: str, value: int, field: str, decorator: str
) -> None:
    app = berth.App("a")
    expected = rf"App\.{decorator}\({old}=\.\.\.\) is deprecated, use {new}= instead"
    with pytest.warns(RenamedWarning, match=expected):
        register: Any = getattr(app, decorator)(**{old: value})
    if decorator == "function":
        register(berth.fastapi_endpoint()(fresh()))
    else:

        class Model:
            @berth.fastapi_endpoint()
            def predict(self) -> None: ...

        register(top_level(Model))
    assert getattr(scaling(app), field) == value


def test_the_warning_points_at_the_users_line() -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        berth.App().function(keep_warm=1)
    assert [Path(w.filename).name for w in caught] == [Path(__file__).name]
    assert issubclass(caught[0].category, DeprecationWarning)


@pytest.mark.parametrize(
    "old, new",
    [
        ("concurrency_limit", "max_containers"),
        ("keep_warm", "min_containers"),
        ("container_idle_timeout", "scaledown_window"),
    ],
)
def test_a_former_name_with_its_current_name_is_refused(old: str, new: str) -> None:
    with pytest.raises(berth.InvalidError, match=rf"got both {old}= and {new}=.*keep {new}"):
        berth.App().function(**{old: 1, new: 1})


def test_allow_concurrent_inputs_is_concurrent_max_inputs() -> None:
    app = berth.App("a")
    expected = r"allow_concurrent_inputs=\.\.\.\) is deprecated, use @berth\.concurrent\(max_inputs=12\)"
    with pytest.warns(RenamedWarning, match=expected):
        register = app.function(allow_concurrent_inputs=12)
    f = register(berth.fastapi_endpoint()(fresh()))
    assert f.concurrency == berth._partial.Concurrency(12)
    assert scaling(app).max_inputs == 12


def test_allow_concurrent_inputs_on_a_class() -> None:
    app = berth.App("a")
    with pytest.warns(RenamedWarning):
        register = app.cls(allow_concurrent_inputs=4)

    class Model:
        @berth.fastapi_endpoint()
        def predict(self) -> None: ...

    assert register(Model).concurrency == berth._partial.Concurrency(4)


def test_allow_concurrent_inputs_with_concurrent_is_refused() -> None:
    @berth.concurrent(max_inputs=3)
    @berth.fastapi_endpoint()
    def both() -> None: ...

    with pytest.warns(RenamedWarning):
        register = berth.App().function(allow_concurrent_inputs=5)
    expected = r"function 'both' sets allow_concurrent_inputs= and @berth\.concurrent\(\)"
    with pytest.raises(berth.InvalidError, match=expected):
        register(both)


def test_allow_concurrent_inputs_must_be_a_count() -> None:
    with pytest.raises(berth.InvalidError, match=r"allow_concurrent_inputs=0\): must be an int >= 1"):
        berth.App().function(allow_concurrent_inputs=0)


def test_stub_is_an_app_that_warns() -> None:
    with pytest.warns(RenamedWarning, match=r"berth\.Stub is deprecated, use berth\.App instead"):
        stub = berth.Stub("old")
    assert isinstance(stub, berth.App) and stub.name == "old"

    @stub.function()
    @berth.fastapi_endpoint()
    def hello() -> str:
        return "hi"

    assert list(stub.registered_functions) == ["hello"]


def test_gpu_is_refused_naming_the_function_and_the_way_out() -> None:
    def embed() -> None: ...

    register = berth.App().function(gpu="A10G")
    with pytest.raises(berth.InvalidError) as info:
        register(embed)
    message = str(info.value)
    assert "function 'embed'" in message and "gpu='A10G'" in message
    assert "the rest of the app deploys only once it is removed" in message

    class Model: ...

    with pytest.raises(berth.InvalidError, match=r"class 'Model': gpu='H100'.*@app\.cls\(\)"):
        berth.App().cls(gpu="H100")(Model)


def test_region_and_cloud_are_accepted_and_named_in_one_notice() -> None:
    app = berth.App("a")
    app.function(region="us-east")(berth.fastapi_endpoint()(fresh()))

    class Model:
        @berth.fastapi_endpoint()
        def predict(self) -> None: ...

    app.cls(region=["eu-west", "us-east"], cloud="aws")(top_level(Model))
    notice = placement_notice(app)
    assert "\n" not in notice and "one region" in notice
    assert "endpoint (region='us-east')" in notice
    assert "Model (region=['eu-west', 'us-east'], cloud='aws')" in notice
    assert placement_notice(berth.App()) == ""
    # The spec does not carry them: nothing on the platform would read them.
    assert len(build_app_spec(app, entry_module="m.py").functions) == 2


def test_region_must_name_regions() -> None:
    with pytest.raises(berth.InvalidError, match=r"region=3\) takes a name or a list of names"):
        berth.App().function(region=3)


APP_FILE = """
import berth

app = berth.App("compat")

@app.function(keep_warm=1, region="us-east")
@berth.fastapi_endpoint()
def hello():
    return "hi"
"""


def test_deploy_prints_the_warnings_and_the_notice(tmp_path: Path) -> None:
    path = tmp_path / "compat_app.py"
    path.write_text(APP_FILE)
    lines: list[str] = []
    loaded = load_with_notices(path, lines.append)
    assert loaded.app.name == "compat"
    assert lines == [
        "warning: App.function(keep_warm=...) is deprecated, use min_containers= instead",
        "notice: region and cloud options are ignored, this platform has one region: "
        "hello (region='us-east')",
    ]


def test_http_server_is_a_web_server_method_of_the_class() -> None:
    app = berth.App("a")

    @app.cls()
    @berth.experimental.http_server(port=8080, proxy_regions=["us-east"], startup_timeout=12)
    @top_level
    class Server:
        @berth.enter()
        def start(self) -> None: ...

    (function,) = build_app_spec(app, entry_module="m.py").functions
    assert (function.name, function.object_name, function.method_name) == (
        "Server.http_server",
        "Server",
        "http_server",
    )
    assert function.web.kind == spec_pb2.WEB_KIND_WEB_SERVER
    assert (function.web.port, function.web.startup_timeout) == (8080, 12)
    assert "Server (proxy_regions=['us-east'])" in placement_notice(app)


@pytest.mark.parametrize(
    "kwargs, refused",
    [
        ({"port": 8000, "exit_grace_period": 5}, r"http_server\(exit_grace_period=\.\.\.\) is not supported"),
        ({"port": 8000, "h2_enabled": True}, r"http_server\(h2_enabled=True\) is not supported"),
        ({"port": 8000, "routing_mode": "x"}, r"http_server\(routing_mode=\.\.\.\) is not supported"),
    ],
)
def test_http_server_refuses_what_berth_cannot_do(kwargs: dict[str, Any], refused: str) -> None:
    with pytest.raises(berth.NotSupportedError, match=refused):
        berth.experimental.http_server(**kwargs)


def test_http_server_misuse_says_how_to_fix_it() -> None:
    with pytest.raises(berth.InvalidError, match="needs the server's port"):
        berth.experimental.http_server()

    class NoEnter: ...

    with pytest.raises(berth.InvalidError, match=r"needs a @berth\.enter\(\) method that starts the server"):
        berth.experimental.http_server(port=8000)(NoEnter)
    with pytest.raises(berth.InvalidError, match="goes on a class"):
        berth.experimental.http_server(port=8000)(fresh())
    with pytest.raises(berth.InvalidError, match="port must be an int from 1 to 65535"):
        berth.experimental.http_server(port=0)


def test_other_experimental_names_are_not_supported() -> None:
    with pytest.raises(berth.NotSupportedError, match=r"clustered"):
        berth.experimental.clustered  # noqa: B018
    with pytest.raises(berth.NotSupportedError, match=r"berth\.experimental\.anything_else is not supported"):
        berth.experimental.anything_else  # noqa: B018
    assert not hasattr(berth.experimental, "__wrapped__")  # probes still get AttributeError
