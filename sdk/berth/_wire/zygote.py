"""The agent <-> zygote protocol's constants; its messages (`zygote_pb2.ZygoteMessage`) travel in the
length-prefix codec (berth._wire.codec). Shared by the zygote (berth._runtime.zygote) and the
agent (services/agent/runtime/zygote.py). File descriptors travel beside the bytes (SCM_RIGHTS)."""

from __future__ import annotations

from berth.v1 import zygote_pb2

from . import codec

MAX_MESSAGE = 16 << 20
# stdin, stdout and stderr of the container, sent with each ZygoteFork.
FDS_PER_FORK = 3
# Padding in the zygote's own environment, so that a forked container can show its environment in
# /proc/<pid>/environ (berth._runtime.zygote._rewrite_proc_blocks). The zygote drops it at start.
ENVIRON_SPACE_VARIABLE = "BERTH_ZYGOTE_ENVIRON_SPACE"
ENVIRON_SPACE = 32 << 10


def decoder() -> codec.Decoder[zygote_pb2.ZygoteMessage]:
    """A byte-fed decoder of zygote messages."""
    return codec.Decoder(zygote_pb2.ZygoteMessage.FromString, MAX_MESSAGE)
