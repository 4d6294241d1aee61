"""The token bucket per workspace, on a clock the test moves."""

import pytest

from services.edge.ratelimit import RateLimiter, retry_after


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_of_five_seconds_passes_then_429s() -> None:
    clock = Clock()
    limiter = RateLimiter(10, clock=clock)
    assert all(limiter.take("ws") == 0.0 for _ in range(50))
    wait = limiter.take("ws")
    assert wait == pytest.approx(0.1)
    assert retry_after(wait) == "1"


def test_tokens_come_back_at_the_rate_and_no_further_than_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    for _ in range(10):
        assert limiter.take("ws") == 0.0
    assert limiter.take("ws") > 0
    clock.now += 1.0  # two tokens back
    assert limiter.take("ws") == 0.0
    assert limiter.take("ws") == 0.0
    assert limiter.take("ws") > 0
    clock.now += 3600  # refilled, but only up to the burst of 5 s x 2/s
    assert sum(limiter.take("ws") == 0.0 for _ in range(20)) == 10


def test_refused_requests_take_nothing() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    for _ in range(5):
        limiter.take("ws")
    for _ in range(100):
        assert limiter.take("ws") > 0
    clock.now += 1.0
    assert limiter.take("ws") == 0.0


def test_workspaces_have_their_own_buckets() -> None:
    limiter = RateLimiter(1, clock=Clock())
    for _ in range(5):
        limiter.take("noisy")
    assert limiter.take("noisy") > 0
    assert limiter.take("quiet") == 0.0


def test_a_slow_rate_says_how_long_to_wait() -> None:
    limiter = RateLimiter(0.25, clock=Clock())  # burst of 1.25: one request, then 3 s until the next
    assert limiter.take("ws") == 0.0
    wait = limiter.take("ws")
    assert wait == pytest.approx(3.0)
    assert retry_after(wait) == "3"


def test_made_up_workspaces_cannot_grow_the_table() -> None:
    clock = Clock()
    limiter = RateLimiter(1, clock=clock, max_buckets=100)
    for i in range(1000):
        limiter.take(f"ws{i}")
        clock.now += 0.001
    assert len(limiter._buckets) <= 100
    clock.now += 10  # all refilled: pruned first, losing nothing
    limiter.take("new")
    assert len(limiter._buckets) == 1


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)
