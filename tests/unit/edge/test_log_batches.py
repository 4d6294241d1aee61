"""The access-line batcher: per app, by count, size or age; a cap on what waits; order kept."""

from __future__ import annotations

import pytest

from berth.v1 import control_pb2
from services.common import loglines
from services.edge.log_batches import Added, LogBatcher


def entry(n: int, path: str = "/") -> control_pb2.LogLine:
    return control_pb2.LogLine(
        time_ms=n, stream="access", request_id=f"{n:016x}", access=control_pb2.AccessEntry(path=path)
    )


def line(n: int, path: str = "/") -> bytes:
    return entry(n, path).SerializeToString()


def ids(lines: list[bytes]) -> list[int]:
    return [control_pb2.LogLine.FromString(data).time_ms for data in lines]


def test_a_batch_is_due_after_the_delay_from_its_oldest_line() -> None:
    batcher = LogBatcher(max_lines=10, max_delay=0.1)
    assert batcher.deadline() is None
    assert batcher.add("a", line(1), now=5.0) is Added.OPENED
    assert batcher.add("a", line(2), now=5.05) is Added.QUEUED
    assert batcher.deadline() == pytest.approx(5.1)
    assert batcher.take(now=5.09) == []
    (batch,) = batcher.take(now=5.1)
    assert (batch.subject, ids(batch.lines)) == ("a", [1, 2])
    assert batcher.deadline() is None and batcher.pending_bytes == 0
    # The next line opens a new batch with a deadline of its own.
    assert batcher.add("a", line(3), now=6.0) is Added.OPENED
    assert batcher.deadline() == pytest.approx(6.1)


def test_a_full_batch_is_due_at_once() -> None:
    batcher = LogBatcher(max_lines=3, max_delay=10.0)
    assert [batcher.add("a", line(n), now=1.0) for n in range(3)] == [Added.OPENED, Added.QUEUED, Added.FULL]
    assert batcher.deadline() == 1.0
    (batch,) = batcher.take(now=1.0)
    assert ids(batch.lines) == [0, 1, 2]


def test_a_batch_is_full_by_size_too() -> None:
    batcher = LogBatcher(max_lines=1000, max_delay=10.0, max_bytes=300)
    outcomes = [batcher.add("a", line(n, "/" + "x" * 100), now=0.0) for n in range(3)]
    assert outcomes[-1] is Added.FULL
    # Taken as pieces under the size, in order.
    batches = batcher.take(now=0.0)
    assert [n for b in batches for n in ids(b.lines)] == [0, 1, 2]
    assert all(len(b.encode()) <= 300 for b in batches)


def test_apps_are_batched_apart() -> None:
    batcher = LogBatcher(max_lines=10, max_delay=0.1)
    batcher.add("a", line(1), now=0.0)
    batcher.add("b", line(2), now=0.05)
    batcher.add("a", line(3), now=0.06)
    (first,) = batcher.take(now=0.1)
    assert (first.subject, ids(first.lines)) == ("a", [1, 3])
    assert batcher.deadline() == pytest.approx(0.15)
    (second,) = batcher.take(now=0.05 + 0.1)
    assert (second.subject, ids(second.lines)) == ("b", [2])


def test_everything_is_taken_on_stop() -> None:
    batcher = LogBatcher(max_lines=10, max_delay=60.0)
    batcher.add("a", line(1), now=0.0)
    batcher.add("b", line(2), now=0.0)
    assert batcher.take(now=0.0) == []
    assert sorted(b.subject for b in batcher.take(now=0.0, everything=True)) == ["a", "b"]
    assert batcher.deadline() is None


def test_what_waits_is_capped_and_drops_are_counted() -> None:
    size = len(line(1)) + 6  # lines 1 to 9 are all this size
    batcher = LogBatcher(max_lines=2, max_delay=0.1, max_pending_bytes=3 * size)
    # A sender held up by the bus takes nothing: full batches stay pending and count.
    outcomes = [batcher.add("a", line(n), now=0.0) for n in range(1, 6)]
    assert outcomes[3:] == [Added.DROPPED, Added.DROPPED]
    assert batcher.dropped == 2 and batcher.pending_bytes <= 3 * size
    # Once it takes them, in pieces of max_lines, there is room again.
    batches = batcher.take(now=0.0)
    assert [ids(b.lines) for b in batches] == [[1, 2], [3]]
    assert batcher.add("a", line(9), now=0.0) is Added.OPENED


def test_a_batch_is_a_log_batch_of_its_lines_and_decodes_to_them() -> None:
    batcher = LogBatcher(max_lines=3)
    long = entry(3, "/" + "x" * 300)  # a length prefix of two bytes
    for data in (line(1), line(2), long.SerializeToString()):
        batcher.add("a", data, now=0.0)
    (batch,) = batcher.take(now=0.0)
    expected = [entry(1), entry(2), long]
    assert batch.encode() == control_pb2.LogBatch(lines=expected).SerializeToString()
    assert loglines.decode(batch.encode(), loglines.BATCH_HEADERS) == expected
    plain = control_pb2.LogLine(text="hello", stream="stdout")
    assert loglines.decode(plain.SerializeToString(), None) == [plain]
    assert loglines.decode(plain.SerializeToString(), {"Other": "x"}) == [plain]


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        LogBatcher(max_lines=0)
