"""Which kept log lines `berth app logs --function/--since` asks the scheduler for."""

from __future__ import annotations

from berth.v1 import control_pb2
from services.scheduler.logstream import Filter


def line(function: str, time_ms: int) -> control_pb2.LogLine:
    return control_pb2.LogLine(function=function, time_ms=time_ms, text="x")


def test_no_filter_wants_every_line() -> None:
    assert Filter().wants(line("a", 0)) and Filter().wants(line("b", 10))


def test_function_keeps_only_that_functions_lines() -> None:
    where = Filter(function="a")
    assert where.wants(line("a", 1))
    assert not where.wants(line("b", 1))
    assert not where.wants(line("", 1))  # the edge's lines carry the function too


def test_since_keeps_lines_at_or_after_it() -> None:
    where = Filter(since_ms=100)
    assert not where.wants(line("a", 99))
    assert where.wants(line("a", 100)) and where.wants(line("a", 101))


def test_of_reads_the_request() -> None:
    request = control_pb2.AppLogsRequest(name="n", function="f", since_ms=7, tail=2)
    assert Filter.of(request) == Filter(function="f", since_ms=7, tail=2)
