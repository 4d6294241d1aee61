"""Access lines gathered per app into LogBatch messages: one bus message per app and batch.

A JetStream publish costs the server ~0.07 ms of CPU whatever its size, so one message per
request was the largest share of the bus's work on a warm request. Lines wait here until their
app's batch is MAX_LINES lines (or MAX_BYTES) or its oldest line has waited MAX_DELAY, whichever
comes first. Pure bookkeeping: the caller passes the clock in and sends what `take` returns
(services/edge/access.py); readers unbatch (services/common/loglines.py).

Lines arrive encoded (one SerializeToString each, as when each was a message) and a batch is
their concatenation, each framed as LogBatch's field 1: protobuf encodes a repeated message field
as exactly that, so `encode` is a LogBatch without copying or re-encoding any line.

What waits is capped (MAX_PENDING_BYTES, all apps together): a bus that stops taking messages
makes the edge drop new lines, counted in `dropped`, rather than grow without bound.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import Enum

MAX_LINES = 200
MAX_DELAY = 0.1
# Far below the bus's message size (1 MiB by default); an access line is ~100-200 bytes.
MAX_BYTES = 256 << 10
MAX_PENDING_BYTES = 8 << 20
# A LogLine inside a LogBatch: its tag and length prefix, at most this many bytes.
_FRAMING = 6
_LINES_TAG = b"\x0a"  # LogBatch.lines: field 1, length-delimited


class Added(Enum):
    """What `LogBatcher.add` did with a line."""

    OPENED = "opened"  # the first line of its app's batch: a new deadline
    QUEUED = "queued"
    FULL = "full"  # its app's batch is complete: send it now
    DROPPED = "dropped"  # over MAX_PENDING_BYTES


@dataclass(frozen=True)
class Batch:
    """Encoded LogLines for one subject, oldest first, at most MAX_LINES of them."""

    subject: str
    lines: list[bytes]

    def encode(self) -> bytes:
        """The control_pb2.LogBatch of these lines, serialized."""
        return b"".join(_LINES_TAG + _varint(len(line)) + line for line in self.lines)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


@dataclass
class _Open:
    started: float
    lines: list[bytes] = field(default_factory=list)
    size: int = 0


class LogBatcher:
    def __init__(
        self,
        *,
        max_lines: int = MAX_LINES,
        max_delay: float = MAX_DELAY,
        max_bytes: int = MAX_BYTES,
        max_pending_bytes: int = MAX_PENDING_BYTES,
    ) -> None:
        if max_lines < 1 or max_bytes < 1 or max_delay < 0:
            raise ValueError("a batch needs room for a line and a delay of 0 or more")
        self._max_lines = max_lines
        self._max_delay = max_delay
        self._max_bytes = max_bytes
        self._max_pending_bytes = max_pending_bytes
        self._open: dict[str, _Open] = {}
        self.pending_bytes = 0
        self.dropped = 0  # lines refused because too much was waiting, since the start

    def add(self, subject: str, line: bytes, now: float) -> Added:
        """Queues one encoded LogLine for `subject`."""
        size = len(line) + _FRAMING
        if self.pending_bytes + size > self._max_pending_bytes:
            self.dropped += 1
            return Added.DROPPED
        batch = self._open.get(subject)
        opened = batch is None
        if batch is None:
            batch = self._open[subject] = _Open(now)
        batch.lines.append(line)
        batch.size += size
        self.pending_bytes += size
        if self._full(batch):
            return Added.FULL
        return Added.OPENED if opened else Added.QUEUED

    def deadline(self) -> float | None:
        """When the next batch is due (now or earlier when one is full); None when none waits."""
        if not self._open:
            return None
        return min(b.started if self._full(b) else b.started + self._max_delay for b in self._open.values())

    def take(self, now: float, *, everything: bool = False) -> list[Batch]:
        """The batches due at `now` (all of them with `everything`), no longer pending."""
        due: list[Batch] = []
        for subject, batch in list(self._open.items()):
            if everything or self._full(batch) or now >= batch.started + self._max_delay:
                del self._open[subject]
                self.pending_bytes -= batch.size
                due.extend(Batch(subject, lines) for lines in self._split(batch.lines))
        return due

    def _full(self, batch: _Open) -> bool:
        return len(batch.lines) >= self._max_lines or batch.size >= self._max_bytes

    def _split(self, lines: list[bytes]) -> Iterator[list[bytes]]:
        """`lines` in order, in pieces of at most max_lines lines and (past one line) max_bytes.

        An app's batch outgrows a piece only while the sender is held up by the bus."""
        piece: list[bytes] = []
        size = 0
        for line in lines:
            line_size = len(line) + _FRAMING
            if piece and (len(piece) >= self._max_lines or size + line_size > self._max_bytes):
                yield piece
                piece, size = [], 0
            piece.append(line)
            size += line_size
        if piece:
            yield piece
