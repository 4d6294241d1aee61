"""The pure pieces of function calls: `berth run`'s argument parsing and target choice, the call
body and the decoding of answers (values, remote exceptions, platform failures), `.map`'s
ordering, and the specs of `@berth.method()` methods."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

import berth
from berth import _calls
from berth._entrypoint import parse_args
from berth._spec import build_app_spec
from berth._wire import codec
from berth.cli.loading import load_app_file
from berth.cli.run import choose, split_target
from berth.exception import (
    CallFailedError,
    FunctionTimeoutError,
    RemoteError,
    RequestSizeError,
    ResourceExhaustedError,
)
from berth.v1 import spec_pb2, stream_pb2


def _entry(x: int, name: str = "a", ratio: float = 0.5, verbose: bool = False) -> None: ...


def test_run_arguments_are_converted_by_annotation() -> None:
    kwargs = parse_args(_entry, ["--x", "3", "--ratio", "1.5", "--verbose"], prog="run")
    assert kwargs == {"x": 3, "name": "a", "ratio": 1.5, "verbose": True}
    assert parse_args(_entry, ["--x=1", "--no-verbose", "--name", "b"], prog="run")["name"] == "b"


def test_run_arguments_untyped_follow_the_default() -> None:
    def entry(n=2, flag=True, label=None):  # type: ignore[no-untyped-def]  # noqa: ANN001, ANN202
        ...

    assert parse_args(entry, ["--n", "5", "--no-flag", "--label", "x"], prog="run") == {
        "n": 5,
        "flag": False,
        "label": "x",
    }


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: --x"),
        (["--x", "one"], "invalid int value: 'one'"),
        (["--x", "1", "--nope", "2"], "unrecognized arguments: --nope 2"),
    ],
)
def test_run_arguments_refused_with_the_reason(argv: list[str], message: str) -> None:
    with pytest.raises(berth.InvalidError, match=message):
        parse_args(_entry, argv, prog="berth run app.py::main")


def test_run_arguments_of_an_unsupported_type_are_refused() -> None:
    def entry(items: list[str]) -> None: ...

    with pytest.raises(berth.InvalidError, match="str, int, float and bool"):
        parse_args(entry, [], prog="run")


APP = """
import berth

app = berth.App("pick")

@app.function()
def square(x: int) -> int:
    return x * x

@app.function()
def cube(x: int) -> int:
    return x ** 3
{entrypoints}
"""


def _app_file(tmp_path: Path, entrypoints: str) -> Any:
    path = tmp_path / "pick.py"
    path.write_text(APP.format(entrypoints=entrypoints))
    return load_app_file(path)


def test_run_target_choice(tmp_path: Path) -> None:
    assert split_target("app.py::main") == (Path("app.py"), "main")
    assert split_target("app.py") == (Path("app.py"), None)
    with pytest.raises(berth.InvalidError, match="name a function after '::'"):
        split_target("app.py::")
    loaded = _app_file(tmp_path, "@app.local_entrypoint()\ndef main(): pass\n")
    assert choose(loaded, None).name == "main"
    assert choose(loaded, "cube").name == "cube"
    with pytest.raises(
        berth.InvalidError, match="no local entrypoint or function 'nope'; it has: main, cube"
    ):
        choose(loaded, "nope")
    with pytest.raises(berth.InvalidError, match=r"several functions: name one .*cube, square"):
        choose(_app_file(tmp_path, ""), None)


def test_call_body_round_trip() -> None:
    target = _calls.Target("app", "Model.predict", dev=True, parameters={"p": "1"})
    body = _calls.request_body(target.head(generator=True), (1, "x"), {"k": 2})
    decoder = codec.Decoder(lambda data: data, 1 << 20)
    head_bytes, input_bytes = decoder.feed(body)
    head = stream_pb2.CallHead.FromString(head_bytes)
    assert (head.app, head.function, head.dev, dict(head.parameters), head.generator) == (
        "app",
        "Model.predict",
        True,
        {"p": "1"},
        True,
    )
    assert cloudpickle.loads(stream_pb2.CallInput.FromString(input_bytes).args) == ((1, "x"), {"k": 2})
    # FunctionCall.get sends the head alone.
    only_head = _calls.request_body(stream_pb2.CallHead(result_of="fc-1", wait_seconds=3), None, {})
    assert len(decoder.feed(only_head)) == 1


def _answer(*outputs: stream_pb2.CallOutput) -> bytes:
    return b"".join(codec.encode(output) for output in outputs)


def test_outputs_decode_across_any_split() -> None:
    body = _answer(
        stream_pb2.CallOutput(value=cloudpickle.dumps([1, 2])),
        stream_pb2.CallOutput(value=cloudpickle.dumps("x" * 1000)),
        stream_pb2.CallOutput(end=True),
    )
    pieces = [body[i : i + 7] for i in range(0, len(body), 7)]
    kinds = [o.WhichOneof("kind") for o in _calls.outputs(pieces)]
    assert kinds == ["value", "value", "end"]
    with pytest.raises(berth.Error, match="ended inside an output"):
        list(_calls.outputs([body[:-3]]))


class _Custom(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(f"code {code}")
        self.code = code


def test_remote_exception_is_recreated_with_its_traceback() -> None:
    error = stream_pb2.CallError(
        type="_Custom",
        message="code 7",
        traceback="Traceback...\n  in f\n",
        exception=cloudpickle.dumps(_Custom(7)),
    )
    exc = _calls.exception_from(error)
    assert isinstance(exc, _Custom) and exc.code == 7
    assert exc.__notes__ == ["Remote traceback:\nTraceback...\n  in f"]


def test_remote_exception_that_does_not_unpickle_is_a_remote_error() -> None:
    error = stream_pb2.CallError(type="Weird", message="boom", traceback="tb line", exception=b"not a pickle")
    exc = _calls.exception_from(error)
    assert isinstance(exc, RemoteError)
    assert (exc.type_name, exc.message, exc.traceback) == ("Weird", "boom", "tb line")
    assert "Weird: boom" in str(exc) and "tb line" in str(exc)
    # The platform's own errors carry no pickle: a builtin type is re-created by name.
    timeout = _calls.exception_from(stream_pb2.CallError(type="TimeoutError", message="not yet"))
    assert type(timeout) is TimeoutError and str(timeout) == "not yet"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (401, berth.AuthError),
        (404, berth.NotFoundError),
        (413, RequestSizeError),
        (429, ResourceExhaustedError),
        (503, ResourceExhaustedError),
        (504, FunctionTimeoutError),
        (500, CallFailedError),
    ],
)
def test_platform_failures_carry_status_and_text(status: int, kind: type[Exception]) -> None:
    error: Any = _calls.platform_error(status, "app 'x' has no function 'y'\n")
    assert isinstance(error, kind) and isinstance(error, berth.Error)
    assert error.status == status and error.text.startswith("app 'x' has no function 'y'")
    assert f"HTTP {status}: app 'x' has no function 'y'" in str(error)


def test_a_403_is_an_auth_error_saying_why_without_blaming_the_token() -> None:
    # A container calling another app is refused whatever it holds: the edge's text is the reason.
    error: Any = _calls.platform_error(403, "a container of app 'a' may not call app 'b': ...")
    assert isinstance(error, berth.AuthError) and error.status == 403
    assert "may not call app 'b'" in str(error) and "token" not in str(error)
    assert "token is missing or wrong" in str(_calls.platform_error(401, "no token"))


def test_map_keeps_input_order_and_yields_exceptions_when_asked() -> None:
    last_done = threading.Event()

    def square(args: tuple[Any, ...], kwargs: Any) -> int:
        (x,) = args
        if x == 0:  # the first input finishes last: the order must still hold
            assert last_done.wait(timeout=30)
        if x == 13:
            raise ValueError("thirteen")
        if x == 19:
            last_done.set()
        return int(x) * int(x)

    inputs = [((x,), {}) for x in range(20)]
    results = list(_calls.map_calls(square, inputs, order_outputs=True, return_exceptions=True))
    assert [r if not isinstance(r, ValueError) else "err" for r in results] == [
        x * x if x != 13 else "err" for x in range(20)
    ]
    with pytest.raises(ValueError, match="thirteen"):
        list(_calls.map_calls(square, inputs, order_outputs=True, return_exceptions=False))
    unordered = list(_calls.map_calls(square, inputs[:13], order_outputs=False, return_exceptions=False))
    assert sorted(unordered) == [x * x for x in range(13)]


def test_map_keeps_at_most_the_bound_in_flight() -> None:
    lock = threading.Lock()
    full = threading.Event()
    in_flight = peak = 0

    def counted(args: tuple[Any, ...], kwargs: Any) -> int:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == _calls.MAP_CONCURRENCY:
                full.set()
        assert full.wait(timeout=30)  # the first calls hold until the bound is reached
        with lock:
            in_flight -= 1
        return 0

    inputs = [((x,), {}) for x in range(300)]
    assert len(list(_calls.map_calls(counted, inputs, order_outputs=True, return_exceptions=False))) == 300
    assert peak == _calls.MAP_CONCURRENCY


METHODS_APP = """
from typing import Any

import berth

app = berth.App("cls")


@app.cls()
class Model:
    p: int = berth.parameter(default=1)

    @berth.method()
    def predict(self, x: int) -> int:
        return x * self.p

    @berth.method()
    def count(self, n: int) -> Any:
        yield from range(n)
"""


def test_methods_deploy_as_functions_and_run_locally(tmp_path: Path) -> None:
    path = tmp_path / "cls.py"
    path.write_text(METHODS_APP)
    loaded = load_app_file(path)
    app, Model = loaded.app, loaded.module.Model  # noqa: N806 - the user's class name
    spec = build_app_spec(app, entry_module="cls.py")
    by_name = {f.name: f for f in spec.functions}
    assert set(by_name) == {"Model.predict", "Model.count"}
    predict = by_name["Model.predict"]
    assert (predict.object_name, predict.method_name, predict.web.kind) == (
        "Model",
        "predict",
        spec_pb2.WEB_KIND_UNSPECIFIED,
    )
    assert [p.name for p in predict.parameters] == ["p"] and by_name["Model.count"].generator
    obj = Model(p=3)
    assert obj.predict.local(2) == 6 and obj.predict(2) == 6 and obj.p == 3
    target = obj.predict._call_target()
    assert (target.app, target.function, dict(target.parameters)) == ("cls", "Model.predict", {"p": "3"})
    with pytest.raises(berth.InvalidError, match="is a generator function: call it with .remote_gen"):
        obj.count.remote(2)
    with pytest.raises(berth.InvalidError, match="Did you forget parentheses"):
        berth.method(lambda self: None)  # type: ignore[arg-type]


def test_from_name_runs_only_remotely() -> None:
    f = berth.Function.from_name("some-app", "f")
    with pytest.raises(berth.InvalidError, match="runs only remotely"):
        f.local(1)
    with pytest.raises(berth.InvalidError, match="non-empty string"):
        berth.Function.from_name("", "f")
    assert berth.FunctionCall.from_id("fc-1").object_id == "fc-1"


def test_which_copy_a_local_function_calls() -> None:
    named, unnamed = berth.App("shop"), berth.App()

    @named.function()
    def f() -> None: ...

    @unnamed.function()
    def g() -> None: ...

    assert (f._call_target().app, f._call_target().dev) == ("shop", False)  # the deployed app
    named._run_copy = ("shop", True)  # what `berth run` sets while its ephemeral copy runs
    assert (f._call_target().app, f._call_target().dev) == ("shop", True)
    with pytest.raises(berth.InvalidError, match="this App has no name"):
        g.remote()
