"""The real runner process, driven over its socket by a stand-in agent."""

import json

from runner_harness import APPS, EXAMPLES, FakeAgent

from berth.v1 import stream_pb2


async def test_fastapi_endpoint_get_and_wrong_method(agent: FakeAgent) -> None:
    first = await agent.start(EXAMPLES / "hello.py", "f")
    assert first.WhichOneof("kind") == "ready", first
    assert first.ready.pid == agent.proc.pid  # type: ignore[union-attr]

    frames, head, body = await agent.response(agent.request("GET", "/"))
    assert head.status == 200
    assert json.loads(body) == "Hello world!"
    assert len(frames) == 1 and head.end, "a simple response must be one frame"

    _, head, _ = await agent.response(agent.request("POST", "/"))
    assert head.status == 405
    assert await agent.shutdown() == 0


async def test_fastapi_endpoint_query_validation(agent: FakeAgent) -> None:
    assert (await agent.start(EXAMPLES / "square.py", "square")).WhichOneof("kind") == "ready"
    _, head, body = await agent.response(agent.request("GET", "/", query=b"x=4"))
    assert (head.status, json.loads(body)) == (200, {"square": 16})
    _, head, _ = await agent.response(agent.request("GET", "/", query=b"x=four"))
    assert head.status == 422
    assert await agent.shutdown() == 0


async def test_asgi_echo_with_body_frames(agent: FakeAgent) -> None:
    assert (await agent.start(EXAMPLES / "echo_asgi.py", "fastapi_app")).WhichOneof("kind") == "ready"
    stream = agent.request(
        "POST", "/echo", body=b'{"a": ', end=False, headers={"content-type": "application/json"}
    )
    agent.send(stream_pb2.Frame(stream=stream, body=stream_pb2.Chunk(data=b"[1, 2]}", end=True)))
    frames, head, body = await agent.response(stream)
    assert head.status == 200
    assert json.loads(body) == {"a": [1, 2]}
    assert len(frames) == 1
    assert await agent.shutdown() == 0


async def test_wsgi_flask_echo(agent: FakeAgent) -> None:
    assert (await agent.start(EXAMPLES / "echo_wsgi.py", "flask_app")).WhichOneof("kind") == "ready"
    frames, head, body = await agent.response(
        agent.request("POST", "/echo", body=b'{"x": 1}', headers={"content-type": "application/json"})
    )
    # How many frames carry it depends on when Flask's thread hands over the body relative to the
    # runner's head window (server.HEAD_WINDOW); what must hold is one head first, then body
    # chunks, the last one ending the response, and no error.
    kinds = [f.WhichOneof("kind") for f in frames]
    assert kinds[0] == "response" and kinds.count("response") == 1, kinds
    assert set(kinds) <= {"response", "response_body", "credit"}, kinds
    last = frames[-1]
    assert last.response.end if last.WhichOneof("kind") == "response" else last.response_body.end, kinds
    assert head.status == 200
    headers = {h.name.lower(): h.value for h in head.headers}
    assert headers[b"content-type"] == b"application/json"
    assert int(headers[b"content-length"]) == len(body)
    assert json.loads(body) == {"x": 1}
    assert await agent.shutdown() == 0


async def test_streaming_client_ip_errors_and_upload(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "streaming.py", "web")).WhichOneof("kind") == "ready"

    frames, head, body = await agent.response(agent.request("GET", "/stream"))
    assert head.status == 200
    assert body == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
    assert len(frames) >= 3, "each event must go out as it is produced"
    assert frames[0].WhichOneof("kind") == "response"
    assert (dict((h.name, h.value) for h in head.headers))[b"content-type"].startswith(b"text/event-stream")

    _, head, body = await agent.response(agent.request("GET", "/ip", client="198.51.100.9"))
    assert json.loads(body)["host"] == "198.51.100.9"

    _, head, body = await agent.response(agent.request("GET", "/boom"))
    assert (head.status, body) == (500, b"Internal Server Error")
    await agent.stderr.wait_for("kaboom")

    stream = agent.request("POST", "/upload", body=b"a" * 10, end=False)
    for i in range(5):
        agent.send(stream_pb2.Frame(stream=stream, body=stream_pb2.Chunk(data=b"b" * 1000, end=i == 4)))
    _, head, body = await agent.response(stream)
    assert json.loads(body) == {"size": 5010}
    assert await agent.shutdown() == 0


async def test_websocket_round_trip(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "streaming.py", "web")).WhichOneof("kind") == "ready"
    stream = agent.request("GET", "/ws", websocket=True)
    accept = await agent.recv()
    assert accept is not None and accept.WhichOneof("kind") == "ws_accept"
    agent.send(stream_pb2.Frame(stream=stream, ws_message=stream_pb2.WebSocketMessage(text="hi")))
    message = await agent.recv()
    assert message is not None and message.ws_message.text == "HI"
    close = await agent.recv()
    assert close is not None and close.WhichOneof("kind") == "ws_close" and close.ws_close.code == 1000
    assert await agent.shutdown() == 0


async def test_raw_asgi_app_without_lifespan(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "raw_asgi.py", "web")).WhichOneof("kind") == "ready"
    frames, head, body = await agent.response(agent.request("POST", "/", body=b"xyz"))
    assert (head.status, body, len(frames)) == (200, b"raw:xyz", 1)
    assert await agent.shutdown() == 0


async def test_cancel_disconnects(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "streaming.py", "web")).WhichOneof("kind") == "ready"
    stream = agent.request("POST", "/upload", body=b"abc", end=False)
    agent.send(stream_pb2.Frame(stream=stream, cancel=stream_pb2.Cancel()))
    # The app sees http.disconnect; the runner keeps serving other streams.
    _, head, body = await agent.response(agent.request("GET", "/ip"))
    assert head.status == 200
    assert await agent.shutdown() == 0
