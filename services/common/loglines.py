"""The two shapes of a message on an app's log subject: one LogLine (container output, failures'
details), or a LogBatch of the edge's access lines (services/edge/log_batches.py), which carries
the BATCH_HEADER so readers tell them apart without guessing from the bytes.
"""

from __future__ import annotations

from collections.abc import Mapping

from berth.v1 import control_pb2

BATCH_HEADER = "Berth-Log-Batch"
BATCH_HEADERS = {BATCH_HEADER: "1"}


def decode(data: bytes, headers: Mapping[str, str] | None) -> list[control_pb2.LogLine]:
    """The lines one message holds, in the order they were written."""
    if headers and headers.get(BATCH_HEADER):
        return list(control_pb2.LogBatch.FromString(data).lines)
    return [control_pb2.LogLine.FromString(data)]
