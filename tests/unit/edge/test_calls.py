"""The edge's table of redirected calls (services/edge/calls.py): its caps, its byte budget and
how long results stay, on a clock the test moves."""

from __future__ import annotations

from services.edge.calls import CallTable, Result, new_call_id, valid_call_id


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def table(clock: Clock, **caps: int) -> CallTable:
    settings = {"max_calls": 3, "max_result": 100, "max_bytes": 250, **caps}
    return CallTable(ttl=60, clock=clock, **settings)


def ok(body: bytes = b"done") -> Result:
    return Result(200, [(b"content-type", b"text/plain")], body)


def test_call_ids_are_random_and_only_their_shape_is_looked_up() -> None:
    ids = {new_call_id() for _ in range(1000)}
    assert len(ids) == 1000 and all(valid_call_id(i) and len(i) >= 22 for i in ids)
    for bad in ["", "short", "a" * 65, "../../etc", "abc.def.ghijklmnopqrstu", "with space" * 3]:
        assert not valid_call_id(bad), bad


def test_past_max_calls_running_calls_are_not_redirected() -> None:
    calls = table(Clock())
    running = [calls.open("live.a", "f") for _ in range(3)]
    assert all(running)
    assert calls.open("live.a", "f") is None  # running calls are never evicted
    calls.finish(running[0], ok())
    assert calls.open("live.a", "f") is None  # nor a result only this edge has
    calls.stored(running[0])
    assert calls.open("live.a", "f") is not None  # a stored result makes room
    assert calls.get(running[0].id) is None and len(calls) == 3


def test_a_result_past_max_result_is_too_large_and_gives_its_bytes_back() -> None:
    calls = table(Clock())
    call = calls.open("live.a", "f")
    assert call is not None
    assert calls.reserve(call, 60) and calls.held_bytes == 60
    assert not calls.reserve(call, 41)
    assert call.too_large and calls.held_bytes == 0
    assert not calls.reserve(call, 1)  # stays too large
    # What takes its place (an error line) is kept and counted.
    error = Result(502, [], b"result too large to keep for a redirected call\n")
    calls.finish(call, error)
    assert calls.get(call.id) is call and call.done.is_set() and calls.held_bytes == error.size


def test_the_byte_budget_evicts_stored_results_then_refuses() -> None:
    clock = Clock()
    calls = table(clock, max_calls=10)
    first = calls.open("live.a", "f")
    assert first is not None and calls.reserve(first, 90)
    calls.finish(first, ok(b"x" * 90))
    second = calls.open("live.a", "f")
    assert second is not None and calls.reserve(second, 100)
    third = calls.open("live.a", "f")
    assert third is not None
    # 90 + 100 held (with headers); 60 more does not fit and nothing may be evicted yet.
    assert not calls.reserve(third, 60) and third.too_large
    calls.stored(first)
    fourth = calls.open("live.a", "f")
    assert fourth is not None and calls.reserve(fourth, 60)  # the stored result made room
    assert calls.get(first.id) is None
    assert calls.held_bytes == 160


def test_results_expire_after_the_ttl_and_stored_ones_once_served() -> None:
    clock = Clock()
    calls = table(clock)
    kept, cached = calls.open("live.a", "f"), calls.open("live.a", "f")
    assert kept is not None and cached is not None
    calls.finish(kept, ok())
    calls.finish(cached, ok())
    calls.stored(cached)
    calls.served(kept)  # only this edge has it: it stays for later follow-ups
    calls.served(cached)  # the bucket has it: the memory copy goes
    assert calls.get(kept.id) is kept and calls.get(cached.id) is None
    clock.now += 59
    assert calls.get(kept.id) is kept
    clock.now += 1
    assert calls.get(kept.id) is None and calls.held_bytes == 0


def test_running_calls_never_expire_and_calls_know_their_function() -> None:
    clock = Clock()
    calls = table(clock)
    call = calls.open("live.a", "f")
    assert call is not None
    clock.now += 10_000
    assert calls.get(call.id) is call and calls.running() == [call]
    assert call.belongs_to("live.a", "f")
    assert not call.belongs_to("live.a", "g") and not call.belongs_to("live.b", "f")


def test_a_response_that_starts_over_gives_back_what_it_had_reserved() -> None:
    calls = table(Clock())
    call = calls.open("live.a", "f")
    assert call is not None and calls.reserve(call, 90)
    calls.restart(call)  # broke off: the edge's error answer takes its place
    assert calls.held_bytes == 0 and calls.reserve(call, 90) and not call.too_large
