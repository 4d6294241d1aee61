"""How `berth app logs` and `berth serve` print a line, and what `--since` accepts."""

from __future__ import annotations

import datetime

import pytest

from berth._errors import InvalidError
from berth.cli.logs import Query, format_line, parse_since
from berth.v1 import control_pb2

WHEN_MS = 1_700_000_000_123


def stamp() -> str:
    return datetime.datetime.fromtimestamp(WHEN_MS / 1000).isoformat(timespec="milliseconds")


def test_a_container_line_shows_time_function_params_container_and_stream() -> None:
    line = control_pb2.LogLine(
        time_ms=WHEN_MS, function="model", params="size=7", container_id="c1", stream="stdout", text="hi"
    )
    assert format_line(line) == f"{stamp()} model[size=7] c1 stdout: hi"


def test_a_plain_function_line_has_no_brackets() -> None:
    line = control_pb2.LogLine(time_ms=WHEN_MS, function="f", container_id="c1", stream="stderr", text="oops")
    assert format_line(line) == f"{stamp()} f c1 stderr: oops"


def test_an_access_line_shows_method_path_status_duration_and_request_id() -> None:
    line = control_pb2.LogLine(
        time_ms=WHEN_MS,
        function="f",
        container_id="c1",
        stream="access",
        request_id="abc123",
        access=control_pb2.AccessEntry(method="POST", path="/items", status=201, duration_us=2345),
    )
    assert format_line(line) == f"{stamp()} f c1 access: POST /items 201 2.3ms request abc123"


def test_an_access_line_without_a_response_says_so() -> None:
    line = control_pb2.LogLine(
        time_ms=WHEN_MS,
        function="f",
        container_id="edge-1",
        stream="access",
        request_id="r",
        access=control_pb2.AccessEntry(method="GET", path="/", duration_us=1000),
    )
    assert "GET / - (client left before a response) 1.0ms request r" in format_line(line)


@pytest.mark.parametrize(("age", "seconds"), [("90s", 90), ("10m", 600), ("2h", 7200), ("1d", 86400)])
def test_since_takes_an_age(age: str, seconds: int) -> None:
    assert parse_since(age, now=1000.0 + seconds) == 1_000_000


def test_since_takes_an_iso_time() -> None:
    moment = datetime.datetime(2026, 1, 31, 14, 5, tzinfo=datetime.UTC)
    assert parse_since("2026-01-31T14:05:00+00:00") == int(moment.timestamp() * 1000)


def test_since_refuses_anything_else_with_the_forms_it_takes() -> None:
    with pytest.raises(InvalidError, match=r"--since 'yesterday' is neither an age \(e\.g\. 30s"):
        parse_since("yesterday")


def test_a_query_becomes_the_request_the_scheduler_filters_by() -> None:
    request = Query("shop", follow=True, function="f", since_ms=5, tail=3, ephemeral=True).request()
    assert (request.name, request.follow, request.function, request.since_ms, request.tail) == (
        "shop",
        True,
        "f",
        5,
        3,
    )
    assert request.ephemeral
