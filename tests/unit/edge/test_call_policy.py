"""Who may call what at the edge's call endpoint (services/edge/call_api.py): a container only its
own app (name and copy) unless the operator allows any, and failed API tokens share the /metrics
budget per client address, loopback included."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from berth._wire import codec
from berth.v1 import stream_pb2
from services.edge.call_api import (
    CONTAINER_CALLS_ANY,
    CallApi,
    Caller,
    cross_app,
    describe_app,
)
from services.edge.metrics import TOKEN_FAILURE_BURST, EdgeMetrics
from services.edge.ratelimit import RateLimiter


class _Relay:
    body_timeout = 5.0  # all the endpoint reads of its relay before routing


class _NoRoutes:
    """Past the checks under test the endpoint looks the function up: that is where these stop."""

    def resolve(self, key: str) -> None:
        raise LookupError(key)


class _Tokens:
    def __init__(self) -> None:
        self.asked = 0

    async def valid(self, token: str) -> bool:
        self.asked += 1
        return token == "bt_good"


def _api(clock: list[float] | None = None, **kwargs: Any) -> tuple[CallApi, _Tokens]:
    tokens = _Tokens()
    failures = RateLimiter(0.1, burst_seconds=TOKEN_FAILURE_BURST / 0.1, clock=lambda: (clock or [0.0])[0])
    metrics = EdgeMetrics(CollectorRegistry(), token_failures=failures)
    api = CallApi(
        routes=_NoRoutes(),  # type: ignore[arg-type]
        relay=_Relay(),  # type: ignore[arg-type]
        slots=lambda key: None,  # type: ignore[arg-type,return-value]
        failures=None,  # type: ignore[arg-type]
        queue_timeout=1.0,
        tokens=tokens,  # type: ignore[arg-type]
        metrics=metrics,
        **kwargs,
    )
    return api, tokens


async def _call(
    api: CallApi,
    head: stream_pb2.CallHead,
    *,
    caller: Caller | None = None,
    token: str = "",
    client: tuple[str, int] = ("127.0.0.1", 5),
) -> tuple[int, dict[bytes, bytes], str]:
    body = codec.encode(head) + codec.encode(stream_pb2.CallInput(args=b""))
    sent: list[dict[str, Any]] = []
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    scope = {"type": "http", "method": "POST", "path": "/__berth/call", "headers": headers, "client": client}
    try:
        await api.serve(scope, receive, send, caller=caller)
    except LookupError:
        return 0, {}, "looked up"  # the checks passed: the endpoint went on to find the function
    start, body_message = sent[0], sent[1]
    return int(start["status"]), dict(start["headers"]), body_message["body"].decode()


SHOP_LIVE = Caller(container="agent-1/c-1", app="live.shop")
SHOP_F = stream_pb2.CallHead(app="shop", function="f")


async def test_a_container_calls_its_own_app_by_default() -> None:
    api, _ = _api()
    assert (await _call(api, SHOP_F, caller=SHOP_LIVE))[2] == "looked up"


@pytest.mark.parametrize(
    ("head", "named"),
    [
        (stream_pb2.CallHead(app="bank", function="f"), "app 'bank'"),
        (stream_pb2.CallHead(app="shop", function="f", dev=True), "app 'shop' (the `berth serve`"),
    ],
)
async def test_another_app_or_the_other_copy_is_a_403_naming_both_and_the_setting(
    head: stream_pb2.CallHead, named: str
) -> None:
    api, _ = _api()
    status, _, text = await _call(api, head, caller=SHOP_LIVE)
    assert status == 403
    assert "a container of app 'shop' may not call " + named in text
    assert "--container-calls any" in text and "BERTH_CONTAINER_CALLS=any" in text


async def test_a_caller_without_an_app_is_refused() -> None:
    api, _ = _api()
    status, _, text = await _call(api, SHOP_F, caller=Caller("a/c", ""))
    assert status == 403 and "an unnamed app" in text


async def test_any_lets_a_container_call_other_apps() -> None:
    api, _ = _api(container_calls=CONTAINER_CALLS_ANY)
    head = stream_pb2.CallHead(app="bank", function="f", dev=True)
    assert (await _call(api, head, caller=SHOP_LIVE))[2] == "looked up"


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="container_calls"):
        _api(container_calls="some")


def test_app_keys_read_as_people_name_apps() -> None:
    assert describe_app("live.shop") == "'shop'"
    assert describe_app("dev.shop") == "'shop' (the `berth serve`/`berth run` copy)"
    assert "'shop' may not call app 'bank'" in cross_app("live.shop", "live.bank")


async def test_failed_tokens_get_429_after_the_budget_loopback_included() -> None:
    clock = [0.0]
    api, tokens = _api(clock)
    head = SHOP_F
    for n in range(TOKEN_FAILURE_BURST):
        status, _, text = await _call(api, head, token=f"bt_guess{n}")
        assert status == 401 and "not valid" in text
    status, headers, text = await _call(api, head, token="bt_good")
    assert status == 429 and headers[b"retry-after"] == b"10" and "too many failed" in text
    assert tokens.asked == TOKEN_FAILURE_BURST  # the 429 asked nobody
    # Another address is not affected; the budget refills.
    assert (await _call(api, head, token="bt_good", client=("198.51.100.9", 1)))[2] == "looked up"
    clock[0] += 10.0
    assert (await _call(api, head, token="bt_good"))[2] == "looked up"


async def test_call_failures_and_metrics_guesses_share_one_budget() -> None:
    api, _ = _api()
    far = ("198.51.100.4", 5)
    metrics = api._metrics
    assert metrics is not None
    for n in range(TOKEN_FAILURE_BURST):
        assert (await _call(api, SHOP_F, token=f"bt_x{n}", client=far))[0] == 401
    scope = {"client": far, "headers": [(b"authorization", b"Bearer bt_good")]}
    assert metrics.token_wait(scope) > 0  # /metrics now answers this address 429 too
