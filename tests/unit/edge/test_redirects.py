"""Redirects at the ASGI level (services/edge/redirects.py), on one edge without a bucket: when a
request is answered 303, what its call's response becomes, and who may follow it. The platform's
own test (tests/e2e/test_redirects.py) covers the same through real clients, containers and KV."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from berth.v1 import state_pb2
from services.edge.failures import Failures
from services.edge.main import parse_config
from services.edge.redirects import CALL_PARAM, MODAL_CALL_PARAM, Redirects, RedirectSettings, _location

ROUTE = state_pb2.Route(app="live.slow", function="f", timeout=300)
OTHER = state_pb2.Route(app="live.slow", function="g", timeout=300)
WAIT = 10.0  # bound on every wait below


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Client:
    """The server's side of one request: what the relay may receive, and what reached the client."""

    def __init__(self, *, upload: bool = False) -> None:
        self.messages: list[dict[str, Any]] = []
        self.answered = asyncio.Event()
        # With `upload`, the body's last part arrives only once `uploaded` is set.
        self.uploaded = asyncio.Event()
        self.body = [{"type": "http.request", "body": b"part", "more_body": upload}]
        if upload:
            self.body.append({"type": "http.request", "body": b"end", "more_body": False})
        else:
            self.uploaded.set()
        self.gone = asyncio.Event()
        self.reading = asyncio.Event()  # the relay has taken some of the body

    async def receive(self) -> dict[str, Any]:
        if len(self.body) == 1:
            await self.uploaded.wait()
        if self.body:
            self.reading.set()
            return self.body.pop(0)
        await self.gone.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            self.answered.set()
            self.gone.set()  # as uvicorn: once the response is complete, receive says disconnect

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])

    @property
    def text(self) -> str:
        return b"".join(m.get("body", b"") for m in self.messages[1:]).decode()


def redirects(clock: Clock, **settings: Any) -> Redirects:
    """An edge's redirects on `clock`, swept by the test (no ticker): the redirect comes when the
    test says the limit has passed."""
    edge = Redirects(RedirectSettings(**{"after": 0.2, **settings}), Failures(None, "e1"))  # type: ignore[arg-type]
    edge.clock = clock
    return edge


def scope(query: bytes = b"x=1", path: str = "/run") -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": path, "raw_path": path.encode(), "query_string": query}


async def request(
    edge: Redirects, client: Client, relaying: asyncio.Event, respond: asyncio.Event, *, stream: bool = False
) -> None:
    """One request through `hold`, as app.py chains it, to a function that answers once `respond`
    is set (a stream sends its head first). `relaying` is set once the relay has the whole body
    (and a stream's head is out)."""
    held = edge.hold(ROUTE, scope(), client.receive, client.send)
    assert held is not None

    async def pump() -> None:  # as the relay's: the body, then a wait for the client to go
        while (await held.receive())["type"] == "http.request":
            if held.body_done:
                relaying.set()

    reader = asyncio.create_task(pump())
    try:
        if stream:
            await held.send({"type": "http.response.start", "status": 200, "headers": []})
            await held.send({"type": "http.response.body", "body": b"first ", "more_body": True})
        await respond.wait()
        if not stream:
            await held.send({"type": "http.response.start", "status": 201, "headers": [(b"x-ran", b"once")]})
        await held.send({"type": "http.response.body", "body": b"the answer"})
    finally:
        reader.cancel()


async def follow(edge: Redirects, location: bytes, route: state_pb2.Route = ROUTE) -> Client:
    path, _, query = location.partition(b"?")
    client = Client()
    await asyncio.wait_for(edge.follow(route, scope(query, path.decode()), client.send), WAIT)
    return client


async def start(
    edge: Redirects, clock: Clock, client: Client, *, stream: bool = False
) -> tuple[asyncio.Task[None], asyncio.Event]:
    """A request, relayed, and then the limit passing; returns its task and its `respond`."""
    relaying, respond = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(request(edge, client, relaying, respond, stream=stream))
    await asyncio.wait_for((relaying if client.uploaded.is_set() else client.reading).wait(), WAIT)
    clock.now += 0.2
    edge.sweep()
    return running, respond


async def test_a_slow_call_is_redirected_and_its_result_served_to_the_follow_up() -> None:
    clock, client = Clock(), Client()
    edge = redirects(clock)
    running, respond = await start(edge, clock, client)
    await asyncio.wait_for(client.answered.wait(), WAIT)
    assert client.status == 303, client.messages
    location = client.headers[b"location"]
    assert location.startswith(b"/run?x=1&" + CALL_PARAM.encode() + b"=")
    assert client.headers[b"cache-control"] == b"no-store"
    assert not running.done()  # the client went away with its 303; the call did not

    # A follow-up waits up to `after` seconds, then is sent round again.
    again = await follow(edge, location)
    assert again.status == 303 and again.headers[b"location"] == location

    respond.set()
    await asyncio.wait_for(running, WAIT)
    result = await follow(edge, location)
    assert (result.status, result.text) == (201, "the answer")
    assert result.headers[b"x-ran"] == b"once" and result.headers[b"content-length"] == b"10"
    # Results stay fetchable (this edge has no bucket: from memory), under either name.
    modal = location.replace(CALL_PARAM.encode(), MODAL_CALL_PARAM.encode())
    assert (await follow(edge, modal)).status == 201


async def test_a_response_that_started_is_never_redirected() -> None:
    clock, client = Clock(), Client()
    edge = redirects(clock)
    running, respond = await start(edge, clock, client, stream=True)
    assert client.status == 200 and len(edge.table) == 0
    respond.set()
    await asyncio.wait_for(running, WAIT)
    assert client.text == "first the answer" and len(client.messages) == 3


async def test_a_body_still_arriving_defers_the_redirect_to_its_end() -> None:
    clock, client = Clock(), Client(upload=True)
    edge = redirects(clock)
    running, respond = await start(edge, clock, client)
    assert len(edge.table) == 0  # a redirect would have opened its call by now
    client.uploaded.set()  # the rest of the body: now the request is redirected
    await asyncio.wait_for(client.answered.wait(), WAIT)
    assert client.status == 303
    respond.set()
    await asyncio.wait_for(running, WAIT)
    assert (await follow(edge, client.headers[b"location"])).status == 201


async def test_call_ids_are_bound_to_their_function_and_unknown_ones_are_404() -> None:
    clock, client = Clock(), Client()
    edge = redirects(clock)
    running, respond = await start(edge, clock, client)
    await asyncio.wait_for(client.answered.wait(), WAIT)
    location = client.headers[b"location"]
    respond.set()
    await asyncio.wait_for(running, WAIT)

    elsewhere = await follow(edge, location, OTHER)
    assert elsewhere.status == 404 and "unknown or expired call id" in elsewhere.text
    unknown = await follow(edge, b"/run?" + CALL_PARAM.encode() + b"=" + b"A" * 22)
    assert unknown.status == 404 and "kept 600 s" in unknown.text
    assert (await follow(edge, b"/run?" + CALL_PARAM.encode() + b"=../x")).status == 404
    assert (await follow(edge, location)).status == 201  # still there for its own function


async def test_a_result_too_large_to_keep_is_a_502_saying_so() -> None:
    clock, client = Clock(), Client()
    edge = redirects(clock, max_result=4)
    running, respond = await start(edge, clock, client)
    await asyncio.wait_for(client.answered.wait(), WAIT)
    respond.set()
    await asyncio.wait_for(running, WAIT)
    result = await follow(edge, client.headers[b"location"])
    assert result.status == 502
    assert result.text.startswith("result too large to keep for a redirected call (request id ")
    assert result.headers[b"x-berth-request-id"]


async def test_past_max_calls_a_request_is_not_redirected_and_simply_waits() -> None:
    clock = Clock()
    edge = redirects(clock, max_calls=1)
    first, second = Client(), Client()
    running = [await start(edge, clock, first), await start(edge, clock, second)]
    await asyncio.wait_for(first.answered.wait(), WAIT)
    assert first.status == 303 and second.messages == []
    for task, respond in running:
        respond.set()
        await asyncio.wait_for(task, WAIT)
    assert second.status == 201 and second.text == "the answer"


def test_the_location_is_the_request_s_own_url_and_never_another_host() -> None:
    call = "A" * 22
    assert _location(scope(b""), call) == f"/run?{CALL_PARAM}={call}".encode()
    named = f"a=1&{MODAL_CALL_PARAM}=old&b=2".encode()
    assert _location(scope(named), call) == f"/run?a=1&b=2&{CALL_PARAM}={call}".encode()
    assert _location(scope(b"", "//evil.example/x"), call).startswith(b"/%2Fevil.example/x?")
    assert _location(scope(b"", "/\\evil.example"), call).startswith(b"/%5Cevil.example?")


def test_redirects_can_be_turned_off() -> None:
    assert redirects(Clock(), after=0).hold(ROUTE, scope(), None, None) is None


def test_the_settings_come_from_flags_or_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("BERTH_REDIRECT_AFTER", "BERTH_CALL_RESULT_TTL", "BERTH_REDIRECT_MAX_RESULT"):
        monkeypatch.delenv(name, raising=False)
    assert parse_config([]).redirects == RedirectSettings()
    assert RedirectSettings().after == 150 and RedirectSettings().result_ttl == 600
    monkeypatch.setenv("BERTH_REDIRECT_AFTER", "2")
    monkeypatch.setenv("BERTH_CALL_RESULT_TTL", "999999")
    settings = parse_config(["--redirect-max-result", "1024"]).redirects
    assert (settings.after, settings.result_ttl, settings.max_result) == (2, 24 * 3600, 1024)
    assert parse_config(["--redirect-after", "0"]).redirects.after == 0
    with pytest.raises(SystemExit):
        parse_config(["--redirect-after", "-1"])
