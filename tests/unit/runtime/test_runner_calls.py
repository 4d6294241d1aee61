"""The runner's serving side of function calls (berth._runtime.calls), in a real runner process
(fresh, and forked from a zygote): a stream whose head carries a CallHead runs the function."""

import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import cloudpickle
import pytest
from runner_harness import APPS, FakeAgent

from berth._wire import codec
from berth.v1 import stream_pb2
from services.agent.runtime.zygote import Zygote

APP = APPS / "calls_app.py"


@pytest.fixture
async def zygote() -> AsyncIterator[Zygote]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    started = Zygote(sys.executable, env)
    try:
        await started.start()
        yield started
    finally:
        await started.close()


@pytest.fixture(params=["fresh", "zygote"])
async def runner(request: pytest.FixtureRequest, zygote: Zygote) -> AsyncIterator[FakeAgent]:
    fake = FakeAgent(zygote if request.param == "zygote" else None)
    try:
        yield fake
    finally:
        await fake.close()


async def call(
    agent: FakeAgent, head: stream_pb2.CallHead, *args: Any, **kwargs: Any
) -> list[stream_pb2.CallOutput]:
    body = codec.encode(stream_pb2.CallInput(args=cloudpickle.dumps((args, kwargs))))
    stream = next(agent._ids)
    request = stream_pb2.RequestHead(method="POST", path="/__berth/call", call=head, body=body, end=True)
    agent.send(stream_pb2.Frame(stream=stream, request=request))
    _, response, data = await agent.response(stream)
    assert response.status == 200, data
    decoder = codec.Decoder(stream_pb2.CallOutput.FromString, 1 << 20)
    found = decoder.feed(data)
    assert decoder.pending == 0
    return found


async def test_a_call_only_container_runs_calls_and_answers_web_requests_404(runner: FakeAgent) -> None:
    assert (await runner.start(APP, "add")).WhichOneof("kind") == "ready", runner.stderr.text
    [out] = await call(runner, stream_pb2.CallHead(app="calls", function="add"), 2, b=3)
    assert cloudpickle.loads(out.value) == 5
    _, head, body = await runner.response(runner.request("GET", "/"))
    assert head.status == 404 and b".remote()" in body
    assert await runner.shutdown() == 0


async def test_an_async_exception_is_a_call_error(runner: FakeAgent) -> None:
    assert (await runner.start(APP, "fail")).WhichOneof("kind") == "ready", runner.stderr.text
    [out] = await call(runner, stream_pb2.CallHead(app="calls", function="fail"), "k")
    assert out.error.type == "KeyError" and "raise KeyError" in out.error.traceback
    assert isinstance(cloudpickle.loads(out.error.exception), KeyError)
    assert await runner.shutdown() == 0


async def test_an_async_generator_streams(runner: FakeAgent) -> None:
    assert (await runner.start(APP, "agen")).WhichOneof("kind") == "ready", runner.stderr.text
    outs = await call(runner, stream_pb2.CallHead(app="calls", function="agen", generator=True), 3)
    assert [cloudpickle.loads(o.value) for o in outs[:-1]] == [0, 1, 2] and outs[-1].end
    assert await runner.shutdown() == 0


async def test_a_method_runs_on_the_containers_instance(runner: FakeAgent) -> None:
    ready = await runner.start(APP, "Model.predict", parameters={"factor": "5"})
    assert ready.WhichOneof("kind") == "ready", runner.stderr.text
    [out] = await call(runner, stream_pb2.CallHead(app="calls", function="Model.predict"), 3)
    assert cloudpickle.loads(out.value) == 15
    assert await runner.shutdown() == 0
