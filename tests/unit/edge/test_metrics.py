"""Who may read the edge's /metrics, and what a request adds to it: real ASGI calls of the page and
of the send wrapper, parsed with prometheus_client's own parser."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from berth.v1 import state_pb2
from services.edge.metrics import EdgeMetrics, bearer, is_loopback

ROUTE = state_pb2.Route(app="live.shop", function="buy", version=3)


class Sent:
    """An ASGI `send` that keeps what it was given."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    @property
    def body(self) -> str:
        return b"".join(m.get("body", b"") for m in self.messages[1:]).decode()


class Tokens:
    """The scheduler's verdicts, as the page sees them: valid iff the token is `good`."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, token: str) -> bool:
        self.asked.append(token)
        return token == "bt_good"


def scope(client: tuple[str, int] | None, *headers: tuple[bytes, bytes]) -> dict[str, Any]:
    return {"type": "http", "path": "/metrics", "method": "GET", "client": client, "headers": list(headers)}


def value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


@pytest.mark.parametrize(
    "client, expected",
    [
        (("127.0.0.1", 1), True),
        (("127.8.9.10", 1), True),
        (("::1", 1), True),
        (("::ffff:127.0.0.1", 1), True),
        (("10.0.0.5", 1), False),
        (("192.168.1.20", 1), False),
        (("::ffff:10.0.0.5", 1), False),
        (("2001:db8::1", 1), False),
        (("not-an-address", 1), False),
        (None, False),  # a unix socket: no peer address to trust
    ],
)
def test_loopback_is_the_tcp_peer_only(client: tuple[str, int] | None, expected: bool) -> None:
    assert is_loopback(scope(client)) is expected


def test_a_forwarded_header_does_not_make_a_far_client_local() -> None:
    assert not is_loopback(scope(("203.0.113.9", 1), (b"x-forwarded-for", b"127.0.0.1")))


def test_bearer_tokens() -> None:
    assert bearer([(b"authorization", b"Bearer bt_x ")]) == "bt_x"
    assert bearer([(b"authorization", b"bearer bt_x")]) == "bt_x"
    assert bearer([(b"authorization", b"Basic dXNlcjpwdw==")]) == ""
    assert bearer([(b"x-token", b"Bearer bt_x")]) == ""


async def test_loopback_reads_the_page_without_a_token() -> None:
    tokens = Tokens()
    page = EdgeMetrics(CollectorRegistry(), token_check=tokens)
    sent = Sent()
    await page.page(scope(("127.0.0.1", 5)), sent)
    assert sent.status == 200
    assert sent.messages[0]["headers"][0] == (b"content-type", b"text/plain; version=0.0.4; charset=utf-8")
    assert {f.name for f in text_string_to_metric_families(sent.body)} >= {
        "berth_requests",
        "berth_request_duration_seconds",
        "berth_queue_depth",
    }
    assert tokens.asked == []


@pytest.mark.parametrize(
    "headers",
    [(), ((b"authorization", b"Bearer bt_bad"),), ((b"authorization", b"bt_good"),)],
    ids=["no token", "invalid token", "not a bearer header"],
)
async def test_far_clients_without_a_valid_token_get_the_edges_404(
    headers: tuple[tuple[bytes, bytes]],
) -> None:
    page = EdgeMetrics(CollectorRegistry(), token_check=Tokens())
    sent = Sent()
    await page.page(scope(("198.51.100.4", 5), *headers), sent)
    assert sent.status == 404
    assert "berth_" not in sent.body and "this is the Berth edge" in sent.body


async def test_far_clients_with_a_valid_token_read_it() -> None:
    tokens = Tokens()

    async def scheduler_series() -> bytes:
        return b'# TYPE berth_containers gauge\nberth_containers{state="ready"} 2.0\n'

    page = EdgeMetrics(CollectorRegistry(), token_check=tokens, scheduler_series=scheduler_series)
    sent = Sent()
    await page.page(scope(("198.51.100.4", 5), (b"authorization", b"Bearer bt_good")), sent)
    assert sent.status == 200 and tokens.asked == ["bt_good"]
    assert value(sent.body, "berth_containers", state="ready") == 2.0


async def test_an_edge_without_a_token_check_refuses_tokens() -> None:
    sent = Sent()
    await EdgeMetrics(CollectorRegistry()).page(
        scope(("198.51.100.4", 5), (b"authorization", b"Bearer x")), sent
    )
    assert sent.status == 404


async def test_each_request_counts_once_by_status_class_when_its_response_ends() -> None:
    page = EdgeMetrics(CollectorRegistry())
    for status in (200, 200, 503):
        downstream = Sent()
        send = page.observe(ROUTE, downstream)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        mid = Sent()
        await page.page(scope(("127.0.0.1", 1)), mid)
        await send({"type": "http.response.body", "body": b"b"})
        assert [m["type"] for m in downstream.messages] == [
            "http.response.start",
            "http.response.body",
            "http.response.body",
        ]
    sent = Sent()
    await page.page(scope(("127.0.0.1", 1)), sent)
    labels = {"app": "live.shop", "function": "buy"}
    assert value(sent.body, "berth_requests_total", **labels, status_class="2xx") == 2
    assert value(sent.body, "berth_requests_total", **labels, status_class="5xx") == 1
    assert value(sent.body, "berth_requests_total", **labels, status_class="4xx") == 0
    assert value(sent.body, "berth_request_duration_seconds_count", **labels) == 3
    # Mid-stream, the third request had not ended: it was not counted yet.
    assert value(mid.body, "berth_requests_total", **labels, status_class="5xx") == 0


async def test_websockets_count_once_accepted_or_denied() -> None:
    page = EdgeMetrics(CollectorRegistry())
    accepted = page.observe(ROUTE, Sent())
    await accepted({"type": "websocket.accept"})
    await accepted({"type": "websocket.send", "text": "hi"})
    await accepted({"type": "websocket.close", "code": 1000})
    denied = page.observe(ROUTE, Sent())
    await denied({"type": "websocket.http.response.start", "status": 401, "headers": []})
    await denied({"type": "websocket.http.response.body", "body": b"no"})
    sent = Sent()
    await page.page(scope(("127.0.0.1", 1)), sent)
    labels = {"app": "live.shop", "function": "buy"}
    assert value(sent.body, "berth_requests_total", **labels, status_class="1xx") == 1
    assert value(sent.body, "berth_requests_total", **labels, status_class="4xx") == 1
    assert value(sent.body, "berth_request_duration_seconds_count", **labels) == 0  # sessions are not timed
