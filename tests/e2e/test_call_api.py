"""Function calls over HTTP (`POST /__berth/call` on the edge's bare host, issue #11), through the
real platform: an API token, a CallHead and a CallInput made here with cloudpickle, and the
CallOutputs decoded here, as the SDK does."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import grpc
import httpx
import pytest

from berth._wire import codec
from berth.cli.client import Api
from berth.cli.config import load
from berth.v1 import control_pb2, stream_pb2
from tests.e2e.conftest import Platform, boot_orders, wait_until

APPS = Path(__file__).parent / "apps"
APP = "callable"


@pytest.fixture(scope="module")
def deployed(platform: Platform) -> Iterator[Platform]:
    result = platform.berth("deploy", str(APPS / "callable.py"))
    assert result.returncode == 0, result.stderr
    # No web decorator: no URL, and the deploy says how to call them instead.
    assert "call it with .remote()" in result.stdout + result.stderr
    yield platform


def token(platform: Platform) -> str:
    found = load(platform.home).token
    assert found
    return found


def body(head: stream_pb2.CallHead, *args: Any, **kwargs: Any) -> bytes:
    data = codec.encode(head)
    if not head.result_of:
        data += codec.encode(stream_pb2.CallInput(args=cloudpickle.dumps((args, kwargs))))
    return data


def post(platform: Platform, data: bytes, *, auth: str | None = "", timeout: float = 120.0) -> httpx.Response:
    headers = {} if auth is None else {"authorization": f"Bearer {auth or token(platform)}"}
    url = f"http://127.0.0.1:{platform.port}/__berth/call"
    with httpx.Client(timeout=timeout) as client:
        return client.post(url, content=data, headers=headers)


def outputs(response: httpx.Response) -> list[stream_pb2.CallOutput]:
    assert response.status_code == 200, response.text
    decoder = codec.Decoder(stream_pb2.CallOutput.FromString, 1 << 30)
    found = decoder.feed(response.content)
    assert decoder.pending == 0 and found
    return found


def call(platform: Platform, function: str, *args: Any, **kwargs: Any) -> list[stream_pb2.CallOutput]:
    return outputs(post(platform, body(stream_pb2.CallHead(app=APP, function=function), *args, **kwargs)))


def value(output: stream_pb2.CallOutput) -> Any:
    assert output.WhichOneof("kind") == "value", output
    return cloudpickle.loads(output.value)


def test_a_plain_function_returns_its_value(deployed: Platform) -> None:
    [answer] = call(deployed, "add", 2, b=40)
    assert value(answer) == 42


def test_an_exception_arrives_as_a_call_error_with_its_traceback(deployed: Platform) -> None:
    [answer] = call(deployed, "boom", "now")
    assert answer.WhichOneof("kind") == "error"
    error = answer.error
    assert error.type == "ValueError" and error.message == "boom: now"
    assert "callable.py" in error.traceback and "raise ValueError" in error.traceback
    assert "berth/_runtime" not in error.traceback  # the function's frames, not the runner's
    exc = cloudpickle.loads(error.exception)
    assert isinstance(exc, ValueError) and str(exc) == "boom: now"


def test_a_generator_streams_its_values_then_end(deployed: Platform) -> None:
    head = stream_pb2.CallHead(app=APP, function="count", generator=True)
    found = outputs(post(deployed, body(head, 5)))
    assert [value(o) for o in found[:-1]] == [0, 1, 4, 9, 16]
    assert found[-1].WhichOneof("kind") == "end"


def test_generator_mismatches_are_refused_with_which_call_to_use(deployed: Platform) -> None:
    [answer] = call(deployed, "count", 3)
    assert answer.error.type == "CallFailed" and ".remote_gen()" in answer.error.message
    head = stream_pb2.CallHead(app=APP, function="add", generator=True)
    [answer] = outputs(post(deployed, body(head, 1, 2)))
    assert "not a generator" in answer.error.message


def test_a_class_method_runs_on_the_pool_its_parameters_pick(deployed: Platform) -> None:
    [answer] = call(deployed, "Model.predict", 5)
    assert value(answer) == 10  # factor's default
    head = stream_pb2.CallHead(app=APP, function="Model.predict", parameters={"factor": "7"})
    [answer] = outputs(post(deployed, body(head, 5)))
    assert value(answer) == 35
    head = stream_pb2.CallHead(app=APP, function="Model.predict", parameters={"factor": "x"})
    refused = post(deployed, body(head, 5))
    assert refused.status_code == 400 and "factor" in refused.text


def test_spawn_answers_an_id_and_a_second_request_fetches_the_result(deployed: Platform) -> None:
    head = stream_pb2.CallHead(app=APP, function="sleepy", spawn=True)
    [spawned] = outputs(post(deployed, body(head, 2.0)))
    call_id = spawned.call_id
    assert call_id
    early = stream_pb2.CallHead(result_of=call_id, wait_seconds=0)
    [running] = outputs(post(deployed, body(early)))
    assert running.error.type == "TimeoutError"
    later = stream_pb2.CallHead(result_of=call_id, wait_seconds=60)
    [answer] = outputs(post(deployed, body(later)))
    assert value(answer) == "woke"
    [again] = outputs(post(deployed, body(later)))  # fetched twice: still there
    assert value(again) == "woke"


def test_an_unknown_call_id_is_a_404(deployed: Platform) -> None:
    head = stream_pb2.CallHead(result_of="A" * 22, wait_seconds=0)
    response = post(deployed, body(head))
    assert response.status_code == 404 and "unknown or expired call id" in response.text


def test_calls_need_a_valid_api_token(deployed: Platform) -> None:
    data = body(stream_pb2.CallHead(app=APP, function="add"), 1, 2)
    missing = post(deployed, data, auth=None)
    assert missing.status_code == 401 and "API token" in missing.text
    wrong = post(deployed, data, auth="bt_not-a-token")
    assert wrong.status_code == 401 and "not valid" in wrong.text


def test_an_unknown_function_or_app_is_a_404_naming_them(deployed: Platform) -> None:
    response = post(deployed, body(stream_pb2.CallHead(app=APP, function="nope"), 1))
    assert response.status_code == 404 and "app 'callable' has no function 'nope'" in response.text
    response = post(deployed, body(stream_pb2.CallHead(app="no-such-app", function="add"), 1))
    assert response.status_code == 404 and "'no-such-app' has no function 'add'" in response.text


def test_the_functions_timeout_is_a_504(deployed: Platform) -> None:
    response = post(deployed, body(stream_pb2.CallHead(app=APP, function="too_slow")))
    assert response.status_code == 504, response.text


def test_calls_past_max_containers_queue_and_all_answer(deployed: Platform) -> None:
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: call(deployed, "one_at_a_time", 0.5), range(4)))
    pids = {value(a[0]) for a in answers}
    assert len(pids) == 1  # max_containers=1, max_inputs=1: one container took them in turn


def test_a_large_argument_flows(deployed: Platform) -> None:
    data = os.urandom(20 * 1024 * 1024)
    [answer] = call(deployed, "size", data)
    assert value(answer) == len(data)


def sleepy(order: Any) -> bool:
    return bool(order.pool.function == "sleepy")


def test_a_container_killed_mid_call_ends_the_call_with_an_error(deployed: Platform) -> None:
    result: list[httpx.Response] = []
    tag = os.urandom(6).hex()
    data = body(stream_pb2.CallHead(app=APP, function="sleepy"), 100.0, tag=tag)
    thread = threading.Thread(target=lambda: result.append(post(deployed, data)))
    thread.start()
    # The function prints its tag once it runs: the call is in it, not on its way.
    wait_until(lambda: f"sleepy {tag}" in deployed.logs(APP), "the call to reach the function")
    pids = [pid for pid, order in boot_orders(deployed) if order.pool.app == f"live.{APP}" and sleepy(order)]
    assert pids
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    thread.join(timeout=60)
    assert not thread.is_alive(), "the call hung after its container died"
    [response] = result
    assert response.status_code >= 500, response.text


def test_lookup_function_says_what_a_caller_needs(deployed: Platform) -> None:
    api = Api(load(deployed.home))
    try:
        found = api.control.LookupFunction(
            control_pb2.LookupFunctionRequest(app=APP, function="Model.predict"), metadata=api.metadata
        )
        assert (found.app, found.function, found.dev, found.web_url) == (APP, "Model.predict", False, "")
        assert [p.name for p in found.parameters] == ["factor"] and found.version >= 1
        for request, text in [
            (control_pb2.LookupFunctionRequest(app=APP, function="nope"), "has no function 'nope'"),
            (control_pb2.LookupFunctionRequest(app="no-such-app", function="f"), "is not deployed"),
            (control_pb2.LookupFunctionRequest(app=APP, function="add", dev=True), "not served"),
        ]:
            with pytest.raises(grpc.RpcError) as refused:
                api.control.LookupFunction(request, metadata=api.metadata)
            assert refused.value.code() == grpc.StatusCode.NOT_FOUND
            assert text in (refused.value.details() or ""), refused.value.details()
        with pytest.raises(grpc.RpcError) as anonymous:
            api.control.LookupFunction(control_pb2.LookupFunctionRequest(app=APP, function="add"))
        assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        api.close()
