"""The edge's memory of valid API tokens for function calls (services/edge/token_cache.py)."""

from __future__ import annotations

import asyncio

from services.edge.token_cache import TokenCache


class Scheduler:
    """The token check the cache sits in front of, counting what it is asked."""

    def __init__(self, valid: set[str]) -> None:
        self.valid = valid
        self.asked: list[str] = []

    async def check(self, token: str) -> bool:
        self.asked.append(token)
        return token in self.valid


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_valid_token_is_asked_once_within_the_ttl() -> None:
    scheduler, clock = Scheduler({"bt_good"}), Clock()
    cache = TokenCache(scheduler.check, ttl=10.0, clock=clock)
    assert asyncio.run(cache.valid("bt_good"))
    clock.now = 9.9
    assert asyncio.run(cache.valid("bt_good"))
    assert scheduler.asked == ["bt_good"]
    clock.now = 10.0  # past the ttl: a revoked token stops here
    scheduler.valid.clear()
    assert not asyncio.run(cache.valid("bt_good"))
    assert scheduler.asked == ["bt_good", "bt_good"]


def test_a_no_is_never_remembered_and_non_tokens_cost_nothing() -> None:
    scheduler = Scheduler(set())
    cache = TokenCache(scheduler.check, clock=Clock())
    assert not asyncio.run(cache.valid("bt_bad"))
    assert not asyncio.run(cache.valid("bt_bad"))
    assert not asyncio.run(cache.valid("not-a-token"))
    assert scheduler.asked == ["bt_bad", "bt_bad"]
    assert len(cache) == 0


def test_the_cache_is_bounded_oldest_first() -> None:
    tokens = {f"bt_{i}" for i in range(5)}
    scheduler = Scheduler(tokens)
    cache = TokenCache(scheduler.check, max_entries=3, clock=Clock())
    for i in range(5):
        assert asyncio.run(cache.valid(f"bt_{i}"))
    assert len(cache) == 3
    scheduler.asked.clear()
    assert asyncio.run(cache.valid("bt_4"))  # kept
    assert asyncio.run(cache.valid("bt_0"))  # forgotten: asked again
    assert scheduler.asked == ["bt_0"]
