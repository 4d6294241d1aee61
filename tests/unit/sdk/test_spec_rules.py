"""The spec rules the SDK, the services and the runner share: defaults, their resolution, the boot
budget, and class parameter values."""

from __future__ import annotations

import pytest

from berth import _spec_rules as rules
from berth.v1 import spec_pb2
from services.common.pools import ParameterError, canonical_params


def web(
    kind: spec_pb2.WebKind = spec_pb2.WEB_KIND_FASTAPI_ENDPOINT, **scaling: float
) -> spec_pb2.FunctionSpec:
    return spec_pb2.FunctionSpec(
        name="f", web=spec_pb2.WebSpec(kind=kind), scaling=spec_pb2.ScalingSpec(**scaling)
    )


def test_zeros_mean_the_defaults() -> None:
    scaling = spec_pb2.ScalingSpec()
    assert rules.timeout(scaling) == 300.0 == rules.DEFAULT_TIMEOUT
    assert rules.scaledown_window(scaling) == 60.0 == rules.DEFAULT_SCALEDOWN_WINDOW
    assert rules.max_inputs(scaling) == 1 == rules.DEFAULT_MAX_INPUTS
    assert rules.target_inputs(scaling) == 1
    assert rules.startup_timeout(scaling) == 300.0  # the request timeout unless set


def test_set_values_win_and_target_stays_within_max_inputs() -> None:
    scaling = spec_pb2.ScalingSpec(timeout=20, scaledown_window=5, max_inputs=8, startup_timeout=90)
    assert (rules.timeout(scaling), rules.scaledown_window(scaling)) == (20, 5)
    assert (rules.max_inputs(scaling), rules.target_inputs(scaling)) == (8, 8)
    assert rules.startup_timeout(scaling) == 90
    scaling.target_inputs = 3
    assert rules.target_inputs(scaling) == 3
    scaling.target_inputs = 50
    assert rules.target_inputs(scaling) == 8
    assert rules.startup_timeout(spec_pb2.ScalingSpec(timeout=20)) == 20


def test_boot_budget_adds_a_web_servers_wait_for_its_port_only() -> None:
    assert rules.boot_budget(web()) == 300.0
    assert rules.boot_budget(web(startup_timeout=40)) == 40.0
    server = web(spec_pb2.WEB_KIND_WEB_SERVER, startup_timeout=40)
    assert rules.boot_budget(server) == 40.0 + rules.DEFAULT_SERVER_STARTUP_TIMEOUT
    server.web.startup_timeout = 12
    assert rules.boot_budget(server) == 52.0
    endpoint = web(startup_timeout=40)
    endpoint.web.startup_timeout = 12  # only a web server waits for a port
    assert rules.boot_budget(endpoint) == 40.0


def test_resolving_writes_the_values_every_reader_would_compute_and_is_idempotent() -> None:
    function = web(spec_pb2.WEB_KIND_WEB_SERVER, target_inputs=0, max_containers=0, cpu=0)
    budget = rules.boot_budget(function)
    rules.resolve_function(function)
    scaling = function.scaling
    assert (scaling.timeout, scaling.scaledown_window, scaling.startup_timeout) == (300, 60, 300)
    assert (scaling.max_inputs, scaling.target_inputs) == (1, 1)
    assert function.web.startup_timeout == rules.DEFAULT_SERVER_STARTUP_TIMEOUT
    # Zeros that are values, not defaults, stay.
    assert (scaling.max_containers, scaling.cpu, scaling.memory_mib) == (0, 0, 0)
    assert rules.boot_budget(function) == budget
    before = function.SerializeToString(deterministic=True)
    rules.resolve_app(spec_pb2.AppSpec(functions=[function]))
    assert rules.resolve_function(function).SerializeToString(deterministic=True) == before


def test_resolving_leaves_set_values_alone() -> None:
    function = web(timeout=20, scaledown_window=5, max_inputs=4, target_inputs=2, startup_timeout=9)
    rules.resolve_function(function)
    scaling = function.scaling
    assert (scaling.timeout, scaling.scaledown_window, scaling.startup_timeout) == (20, 5, 9)
    assert (scaling.max_inputs, scaling.target_inputs) == (4, 2)
    assert function.web.startup_timeout == 0  # a fastapi endpoint has no port to wait for


def param(kind: spec_pb2.ParamType, name: str = "p") -> spec_pb2.ClassParameter:
    return spec_pb2.ClassParameter(name=name, type=kind)


@pytest.mark.parametrize("text", ["true", "TRUE", "1", "yes", "on", "On"])
def test_one_set_of_true_spellings(text: str) -> None:
    assert rules.parse_param(param(spec_pb2.PARAM_TYPE_BOOL), text) is True
    assert rules.canonical_param(param(spec_pb2.PARAM_TYPE_BOOL), text) == "true"


@pytest.mark.parametrize("text", ["false", "False", "0", "no", "off"])
def test_one_set_of_false_spellings(text: str) -> None:
    assert rules.parse_param(param(spec_pb2.PARAM_TYPE_BOOL), text) is False
    assert rules.canonical_param(param(spec_pb2.PARAM_TYPE_BOOL), text) == "false"


def test_the_edge_and_the_runner_read_parameters_alike() -> None:
    """The edge names the pool with canonical_params; the runner converts what the pool names."""
    from berth._cls import ParamDef
    from berth._runtime.hooks import convert

    declared = [param(spec_pb2.PARAM_TYPE_BOOL, "debug"), param(spec_pb2.PARAM_TYPE_INT, "n")]
    assert canonical_params(declared, b"debug=On&n=007") == "debug=true&n=7"
    assert convert(ParamDef("debug", spec_pb2.PARAM_TYPE_BOOL), "on") is True
    assert convert(ParamDef("n", spec_pb2.PARAM_TYPE_INT), "007") == 7


def test_values_that_do_not_fit_are_refused_naming_the_parameter() -> None:
    with pytest.raises(ParameterError, match=r"parameter 'n' must be an integer, got 'ten'"):
        rules.parse_param(param(spec_pb2.PARAM_TYPE_INT, "n"), "ten")
    with pytest.raises(rules.ParameterValueError, match=r"parameter 'p' must be true or false, got 'maybe'"):
        rules.canonical_param(param(spec_pb2.PARAM_TYPE_BOOL), "maybe")


def test_text_and_bytes_keep_their_spelling() -> None:
    assert rules.canonical_param(param(spec_pb2.PARAM_TYPE_STR), " Mixed €") == " Mixed €"
    assert rules.canonical_param(param(spec_pb2.PARAM_TYPE_BYTES), "\u20ac") == "\u20ac"
    assert rules.parse_param(param(spec_pb2.PARAM_TYPE_BYTES), "\xff") == b"\xff"


def test_spelling_round_trips() -> None:
    for kind, value in (
        (spec_pb2.PARAM_TYPE_BOOL, True),
        (spec_pb2.PARAM_TYPE_BOOL, False),
        (spec_pb2.PARAM_TYPE_INT, -4),
        (spec_pb2.PARAM_TYPE_STR, "a b"),
        (spec_pb2.PARAM_TYPE_BYTES, b"\x00\xfe"),
    ):
        assert rules.parse_param(param(kind), rules.spell_param(value)) == value
