"""/metrics token guessing is bounded: failed checks per client address, then 429 without asking
the scheduler, until the address's budget refills."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from services.edge.metrics import TOKEN_FAILURE_BURST, EdgeMetrics
from services.edge.ratelimit import RateLimiter

FAR = ("198.51.100.4", 5)
OTHER = ("198.51.100.77", 5)


class Tokens:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, token: str) -> bool:
        self.asked.append(token)
        return token == "bt_good"


async def status(
    page: EdgeMetrics, client: tuple[str, int] | None, token: str
) -> tuple[int, dict[bytes, bytes]]:
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"authorization", f"Bearer {token}".encode())] if token else []
    await page.page({"type": "http", "path": "/metrics", "client": client, "headers": headers}, send)
    return int(sent[0]["status"]), dict(sent[0]["headers"])


def limited(clock: list[float]) -> tuple[EdgeMetrics, Tokens]:
    tokens = Tokens()
    failures = RateLimiter(0.1, burst_seconds=TOKEN_FAILURE_BURST / 0.1, clock=lambda: clock[0])
    return EdgeMetrics(CollectorRegistry(), token_check=tokens, token_failures=failures), tokens


async def test_an_address_past_its_failures_gets_429_and_costs_no_round_trip() -> None:
    clock = [0.0]
    page, tokens = limited(clock)
    for n in range(TOKEN_FAILURE_BURST):
        assert (await status(page, FAR, f"bt_guess{n}"))[0] == 404
    assert len(tokens.asked) == TOKEN_FAILURE_BURST
    code, headers = await status(page, FAR, "bt_guess-next")
    assert code == 429 and headers[b"retry-after"] == b"10"
    assert len(tokens.asked) == TOKEN_FAILURE_BURST  # the scheduler was not asked
    # A valid token from that address waits too: its verdict would cost the same round trip.
    assert (await status(page, FAR, "bt_good"))[0] == 429
    # Other addresses, loopback, and tokenless requests (no round trip) are not affected.
    assert (await status(page, OTHER, "bt_good"))[0] == 200
    assert (await status(page, ("127.0.0.1", 9), ""))[0] == 200
    assert (await status(page, FAR, ""))[0] == 404
    # The budget refills: one more check after 10 s.
    clock[0] += 10.0
    assert (await status(page, FAR, "bt_good"))[0] == 200


async def test_successes_do_not_use_up_the_budget() -> None:
    page, tokens = limited([0.0])
    for _ in range(3 * TOKEN_FAILURE_BURST):
        assert (await status(page, FAR, "bt_good"))[0] == 200
    assert (await status(page, FAR, "bt_bad"))[0] == 404


def test_waiting_does_not_take() -> None:
    clock = [0.0]
    limiter = RateLimiter(1.0, burst_seconds=1.0, clock=lambda: clock[0])
    assert limiter.waiting("a") == 0.0
    assert limiter.take("a") == 0.0
    assert limiter.waiting("a") == 1.0 and limiter.waiting("a") == 1.0
    clock[0] = 0.5
    assert limiter.waiting("a") == 0.5
    clock[0] = 1.0
    assert limiter.waiting("a") == 0.0 and limiter.take("a") == 0.0
