"""Decorator behaviour and the messages misuse produces."""

import pytest

import berth
from berth._partial import web_config
from berth.v1 import spec_pb2


def test_fastapi_endpoint_keeps_function_callable() -> None:
    app = berth.App("t")

    @app.function()
    @berth.fastapi_endpoint(method="post", label="sq")
    def square(x: int) -> int:
        return x * x

    assert square(3) == 9
    assert square.web is not None and square.web.method == "POST" and square.web.label == "sq"
    assert app.registered_functions == {"square": square}


def test_web_endpoint_is_an_alias() -> None:
    assert berth.web_endpoint is berth.fastapi_endpoint


@pytest.mark.parametrize(
    "decorator, name",
    [
        (berth.fastapi_endpoint, "fastapi_endpoint"),
        (berth.asgi_app, "asgi_app"),
        (berth.wsgi_app, "wsgi_app"),
        (berth.concurrent, "concurrent"),
        (berth.enter, "enter"),
        (berth.exit, "exit"),
    ],
)
def test_missing_parentheses(decorator, name) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(berth.InvalidError, match=rf"Did you forget parentheses\? Use @berth\.{name}\(\)"):

        @decorator
        def f() -> None: ...


def test_missing_parentheses_on_app_function() -> None:
    app = berth.App()
    with pytest.raises(berth.InvalidError, match=r"Use @app\.function\(\)"):

        @app.function  # type: ignore[arg-type]
        def f() -> None: ...


def test_positional_arguments_rejected() -> None:
    with pytest.raises(berth.InvalidError, match="keyword arguments only"):
        berth.fastapi_endpoint("POST")


def test_web_decorator_above_app_function() -> None:
    app = berth.App()
    with pytest.raises(berth.InvalidError, match=r"must be applied below @app\.function\(\).*on top"):

        @berth.fastapi_endpoint()
        @app.function()
        def f() -> None: ...


def test_concurrent_above_app_function() -> None:
    app = berth.App()
    with pytest.raises(berth.InvalidError, match="below @app.function"):

        @berth.concurrent(max_inputs=2)
        @app.function()
        def f() -> None: ...


def test_two_web_decorators() -> None:
    with pytest.raises(berth.InvalidError, match="two web decorators"):

        @berth.asgi_app()
        @berth.fastapi_endpoint()
        def f() -> None: ...


@pytest.mark.parametrize("port", [0, 70000, -1, True])
def test_web_server_port_range(port: int) -> None:
    with pytest.raises(berth.InvalidError, match="port must be an int from 1 to 65535"):
        berth.web_server(port)


def test_web_server_bare() -> None:
    with pytest.raises(berth.InvalidError, match=r"Use @berth\.web_server\(8000\)"):

        @berth.web_server  # type: ignore[arg-type]
        def f() -> None: ...


def test_method_must_be_http_verb() -> None:
    with pytest.raises(berth.InvalidError, match="method must be one of"):
        berth.fastapi_endpoint(method="FETCH")


def test_factory_must_take_no_arguments() -> None:
    with pytest.raises(berth.InvalidError, match="must take no arguments"):

        @berth.asgi_app()
        def f(x: int) -> None: ...


def test_unknown_function_option() -> None:
    app = berth.App()
    with pytest.raises(
        berth.InvalidError, match=r"unexpected argument 'foo'; valid arguments: image, secrets"
    ):
        app.function(foo=1)


def test_gpu_rejected() -> None:
    def embed() -> None: ...

    # Refused once the function is known, so the message can name it (test_compat_names.py).
    with pytest.raises(berth.InvalidError, match="GPU"):
        berth.App().function(gpu="A100")(embed)


def test_app_function_on_class_suggests_cls() -> None:
    app = berth.App()
    with pytest.raises(berth.InvalidError, match=r"use @app\.cls\(\)"):

        @app.function()
        class C: ...


def test_errors_share_one_root() -> None:
    for cls in (berth.InvalidError, berth.NotFoundError, berth.AuthError):
        assert issubclass(cls, berth.Error)


def test_cls_parameters_and_local_call() -> None:
    app = berth.App()

    @app.cls()
    @berth.concurrent(max_inputs=4)
    class Server:
        root: str = berth.parameter(default=".")
        n: int = berth.parameter()

        @berth.enter()
        def start(self) -> None: ...

        @berth.web_server(8000)
        def files(self) -> None: ...

    obj = Server(root="/", n=2)
    assert (obj.root, obj.n) == ("/", 2)
    assert Server.enter_methods == ["start"]
    assert web_config(Server.user_cls.files).kind == spec_pb2.WEB_KIND_WEB_SERVER  # type: ignore[union-attr]
    with pytest.raises(berth.InvalidError, match="needs a value for its parameter 'n'"):
        Server()
    with pytest.raises(berth.InvalidError, match="declared int"):
        Server(n="x")


def test_cls_parameter_type_rejected() -> None:
    app = berth.App()
    with pytest.raises(berth.InvalidError, match="must be str, int, bool or bytes"):

        @app.cls()
        class C:
            x: float = berth.parameter(default=1.0)


def test_image_is_immutable_and_ordered() -> None:
    base = berth.Image.debian_slim(python_version="3.12")
    image = base.env({"A": "1"}).pip_install("fastapi[standard]", ["flask", "a2wsgi"], extra_args="--no-deps")
    assert base.steps == ()
    spec = image.to_spec()
    assert spec.python_version == "3.12"
    assert [s.WhichOneof("step") for s in spec.steps] == ["env", "pip_install"]
    assert list(spec.steps[1].pip_install.packages) == ["fastapi[standard]", "flask", "a2wsgi"]
    assert list(spec.steps[1].pip_install.extra_args) == ["--no-deps"]


def test_image_local_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("A")
    (tmp_path / "f.txt").write_text("F")
    image = (
        berth.Image.debian_slim()
        .add_local_file(tmp_path / "f.txt", "/data/f2.txt")
        .add_local_dir(tmp_path / "d", "/srv")
        .add_local_python_source("berth")
    )
    steps = image.to_spec().steps
    assert (steps[0].add_files.remote_path, steps[0].add_files.files[0].path) == ("/data", "f2.txt")
    assert steps[0].add_files.files[0].content == b"F"
    assert steps[1].add_files.files[0].path == "a.txt"
    assert steps[2].add_files.python_path and steps[2].add_files.remote_path == "/root"
    assert any(f.path == "berth/__init__.py" for f in steps[2].add_files.files)
    with pytest.raises(berth.NotFoundError):
        berth.Image.debian_slim().add_local_file(tmp_path / "nope", "/x").to_spec()


def test_secrets() -> None:
    assert berth.Secret.from_name("s").name == "s"
    assert berth.Secret.from_dict({"A": "1", "B": None}).values == (("A", "1"),)
    with pytest.raises(berth.InvalidError):
        berth.App(secrets=berth.Secret.from_name("s"))  # type: ignore[arg-type]
