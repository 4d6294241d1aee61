"""Naming container pools, shared by the edge (which picks a pool per request) and the scheduler."""

from __future__ import annotations

import urllib.parse
from collections.abc import Sequence

from berth._spec_rules import ParameterValueError, canonical_param
from berth.v1 import bus_pb2, spec_pb2

# A request's class parameters do not fit the declared types (berth._spec_rules reads them, for the
# edge, the scheduler and the runner alike); the message is for the user.
ParameterError = ParameterValueError


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
            value = canonical_param(param, given[param.name])
        elif param.has_default:
            value = param.default
        else:
            raise ParameterError(f"missing required parameter {param.name!r}")
        pairs.append((param.name, value))
    return urllib.parse.urlencode(sorted(pairs))


