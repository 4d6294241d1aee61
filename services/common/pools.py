"""Naming container pools, shared by the edge (which picks a pool per request) and the scheduler."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence

from berth.v1 import bus_pb2, spec_pb2


class ParameterError(ValueError):
    """A request's class parameters do not fit the declared types; the message is for the user."""


def pool_id(key: bus_pb2.PoolKey) -> str:
    return f"{key.app}/{key.function}/{key.version}/{key.params}"


def canonical_params(parameters: Sequence[spec_pb2.ClassParameter], query_string: bytes) -> str:
    """The pool's parameter set from a request's query: every declared parameter, typed and spelled
    one way (defaults filled in), sorted, URL-encoded. Undeclared query keys are the app's business."""
    if not parameters:
        return ""
    given = dict(urllib.parse.parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    pairs = []
    for param in parameters:
        if param.name in given:
            value = _typed(param, given[param.name])
        elif param.has_default:
            value = param.default
        else:
            raise ParameterError(f"missing required parameter {param.name!r}")
        pairs.append((param.name, value))
    return urllib.parse.urlencode(sorted(pairs))


def _typed(param: spec_pb2.ClassParameter, raw: str) -> str:
    if param.type == spec_pb2.PARAM_TYPE_INT:
        try:
            return str(int(raw))
        except ValueError:
            raise ParameterError(f"parameter {param.name!r} must be an integer, got {raw!r}") from None
    if param.type == spec_pb2.PARAM_TYPE_BOOL:
        lowered = raw.lower()
        if lowered in ("true", "1", "yes"):
            return "true"
        if lowered in ("false", "0", "no"):
            return "false"
        raise ParameterError(f"parameter {param.name!r} must be true or false, got {raw!r}")
    return raw
