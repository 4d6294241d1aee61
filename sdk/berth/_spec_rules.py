"""The rules of a function's spec that the SDK, the services and the in-container runtime share:
defaults, the boot budget, and how class parameter values are spelled and read.

A `ScalingSpec` field left at 0 means "the default". The scheduler resolves those zeros once, when
a deploy is stored (and again when an older record is read back), so the edge, the autoscaler, the
agent and the runner see concrete values. The accessors below apply the same rule to a spec that
was never resolved (one written by hand, or by an older scheduler), so every reader agrees.
"""

from __future__ import annotations

from typing import Any

from berth.v1 import spec_pb2

DEFAULT_TIMEOUT = 300.0
"""Seconds a request may run."""
DEFAULT_SCALEDOWN_WINDOW = 60.0
"""Seconds a container stays idle before it is stopped."""
DEFAULT_MAX_INPUTS = 1
"""Requests one container takes at once without `@berth.concurrent`."""
DEFAULT_SERVER_STARTUP_TIMEOUT = 5.0
"""Seconds `@berth.web_server` waits for its port, after the function that starts the server."""

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


class ParameterValueError(ValueError):
    """A class parameter's text does not fit its declared type; the message is for the user."""


# --- scaling -------------------------------------------------------------------------------------


def timeout(scaling: spec_pb2.ScalingSpec) -> float:
    """Seconds a request may run."""
    return scaling.timeout or DEFAULT_TIMEOUT


def scaledown_window(scaling: spec_pb2.ScalingSpec) -> float:
    """Seconds an idle container is kept."""
    return scaling.scaledown_window or DEFAULT_SCALEDOWN_WINDOW


def max_inputs(scaling: spec_pb2.ScalingSpec) -> int:
    """Requests one container takes at once."""
    return max(DEFAULT_MAX_INPUTS, scaling.max_inputs)


def target_inputs(scaling: spec_pb2.ScalingSpec) -> int:
    """Requests per container the autoscaler aims for: target_inputs, within 1..max_inputs."""
    most = max_inputs(scaling)
    return max(1, min(scaling.target_inputs or most, most))


def startup_timeout(scaling: spec_pb2.ScalingSpec) -> float:
    """Seconds a container may take to start (import, class set-up, @enter hooks): the request
    timeout unless set."""
    return scaling.startup_timeout or timeout(scaling)


def server_startup_timeout(web: spec_pb2.WebSpec) -> float:
    """Seconds a `web_server` function's port may take to accept connections; 0 for other kinds,
    which have no port to wait for."""
    if web.kind != spec_pb2.WEB_KIND_WEB_SERVER:
        return 0.0
    return web.startup_timeout or DEFAULT_SERVER_STARTUP_TIMEOUT


def boot_budget(function: spec_pb2.FunctionSpec) -> float:
    """Seconds a container of `function` may take from launch to ready: its startup timeout, plus
    a web server's wait for its port."""
    return startup_timeout(function.scaling) + server_startup_timeout(function.web)


def resolve_function(function: spec_pb2.FunctionSpec) -> spec_pb2.FunctionSpec:
    """Fills `function`'s defaulted (zero) fields with their values, in place, and returns it.
    Idempotent. `max_containers` (0: no limit), `cpu` and `memory_mib` (0: the runtime's own) keep
    their zeros, which are values, not defaults."""
    scaling = function.scaling
    scaling.timeout = timeout(scaling)
    scaling.scaledown_window = scaledown_window(scaling)
    scaling.startup_timeout = startup_timeout(scaling)
    scaling.max_inputs = max_inputs(scaling)
    scaling.target_inputs = target_inputs(scaling)
    if function.web.kind == spec_pb2.WEB_KIND_WEB_SERVER:
        function.web.startup_timeout = server_startup_timeout(function.web)
    return function


def resolve_app(spec: spec_pb2.AppSpec) -> spec_pb2.AppSpec:
    """`resolve_function` for every function of `spec`, in place; returns it."""
    for function in spec.functions:
        resolve_function(function)
    return spec


# --- class parameters ----------------------------------------------------------------------------


def parse_param(param: spec_pb2.ClassParameter | Any, text: str) -> Any:
    """A parameter value from its URL spelling, as its declared type (`param` has `name` and
    `type`: a spec's ClassParameter or the SDK's ParamDef). ParameterValueError names it."""
    kind = param.type
    if kind == spec_pb2.PARAM_TYPE_INT:
        try:
            return int(text)
        except ValueError:
            raise ParameterValueError(f"parameter {param.name!r} must be an integer, got {text!r}") from None
    if kind == spec_pb2.PARAM_TYPE_BOOL:
        lowered = text.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ParameterValueError(f"parameter {param.name!r} must be true or false, got {text!r}")
    if kind == spec_pb2.PARAM_TYPE_BYTES:
        return text.encode("latin-1")
    return text


def spell_param(value: Any) -> str:
    """A parameter value as a URL query spells it, one way for each value: what pools are named by."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def canonical_param(param: spec_pb2.ClassParameter | Any, text: str) -> str:
    """`text` read as `param`'s type and spelled back the one way (`"07"` -> `"7"`, `"Yes"` ->
    `"true"`). Text and bytes stay as given: a query's text may hold characters past latin-1."""
    if param.type in (spec_pb2.PARAM_TYPE_INT, spec_pb2.PARAM_TYPE_BOOL):
        return spell_param(parse_param(param, text))
    return text
