"""The edge's rules for class parameters: how long values may be, and how a refused parameter set
is answered.

A parametrized class gets a container pool per distinct set of values (services/common/pools.py
spells the set), and callers choose the values. Length is checked here, before any Demand, so an
over-long value costs neither the scheduler nor a container: it is a 400. How many distinct sets a
function may have live is the scheduler's to decide, since only it sees every edge's demand; its
refusal (a 429 with the time until a pool may free up) reaches the client through `retry_later`.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence
from typing import Any

from berth.v1 import spec_pb2
from services.common.pools import ParameterError, canonical_params
from services.edge.failures import plain
from services.edge.leases import PoolFailed

__all__ = ["MAX_TOTAL_BYTES", "MAX_VALUE_BYTES", "ParameterError", "parameter_set", "retry_later"]

# Each value is carried in every Demand, lease and boot order of its pool and given to the app's
# class, so it stays small: a path, a model name or a flag fits in far less.
MAX_VALUE_BYTES = 1024
MAX_TOTAL_BYTES = 4096


def parameter_set(parameters: Sequence[spec_pb2.ClassParameter], query_string: bytes) -> str:
    """The request's pool parameters (canonical_params), after checking the lengths of the values
    it gives for declared parameters; ParameterError (a 400) names the parameter at fault."""
    if not parameters:
        return ""
    # A decoded value is at most twice the raw bytes in UTF-8 (a raw byte past ASCII reads as one
    # latin-1 character), so a short query is within every limit: the common case costs no parse.
    if 2 * len(query_string) > MAX_VALUE_BYTES:
        _check_lengths(parameters, query_string)
    return canonical_params(parameters, query_string)


def _check_lengths(parameters: Sequence[spec_pb2.ClassParameter], query_string: bytes) -> None:
    declared = {param.name for param in parameters}
    total = 0
    pairs = urllib.parse.parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    for name, value in pairs:
        if name not in declared:
            continue  # the app's own query keys: not part of the pool
        size = len(value.encode())  # as the app and the pool key will carry it: UTF-8
        if size > MAX_VALUE_BYTES:
            raise ParameterError(
                f"parameter {name!r} is {size} bytes long; a parameter value may be at most "
                f"{MAX_VALUE_BYTES} bytes"
            )
        total += size
        if total > MAX_TOTAL_BYTES:
            raise ParameterError(
                f"the parameter values are more than {MAX_TOTAL_BYTES} bytes long together; "
                f"that is the most one request may give"
            )


async def retry_later(send: Any, failure: PoolFailed, *, websocket: bool) -> None:
    """A scheduler's refusal with advice on when to retry (a 429 for a parameter set past the
    function's cap): the whole message, which is the client's to read, and Retry-After."""
    kind = "websocket.http.response" if websocket else "http.response"
    headers = [(b"retry-after", str(failure.retry_after).encode())]
    await plain(send, failure.status, str(failure), kind=kind, headers=headers)
