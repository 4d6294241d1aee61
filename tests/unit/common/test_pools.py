"""Canonical class parameters: one spelling per pool, and errors that name the parameter."""

import pytest

from berth.v1 import bus_pb2, spec_pb2
from services.common.pools import ParameterError, canonical_params, pool_id

STR = spec_pb2.PARAM_TYPE_STR
INT = spec_pb2.PARAM_TYPE_INT
BOOL = spec_pb2.PARAM_TYPE_BOOL


def param(name: str, kind: int, default: str | None = None) -> spec_pb2.ClassParameter:
    if default is None:
        return spec_pb2.ClassParameter(name=name, type=kind)
    return spec_pb2.ClassParameter(name=name, type=kind, has_default=True, default=default)


def test_no_parameters_is_empty_whatever_the_query() -> None:
    assert canonical_params([], b"") == ""
    assert canonical_params([], b"size=3&x=y") == ""


def test_defaults_filled_in_and_sorted() -> None:
    params = [param("zeta", STR, "z"), param("alpha", INT, "1"), param("mid", BOOL, "false")]
    assert canonical_params(params, b"") == "alpha=1&mid=false&zeta=z"


def test_query_values_override_defaults() -> None:
    params = [param("size", INT, "1"), param("name", STR, "x")]
    assert canonical_params(params, b"name=bob&size=7") == "name=bob&size=7"


def test_undeclared_query_keys_are_ignored() -> None:
    assert canonical_params([param("size", INT, "1")], b"other=2&size=3") == "size=3"


def test_same_parameters_spelled_differently_give_one_pool() -> None:
    params = [param("n", INT), param("flag", BOOL)]
    a = canonical_params(params, b"n=007&flag=YES")
    b = canonical_params(params, b"flag=1&n=7")
    c = canonical_params(params, b"flag=true&n=+7")
    assert a == b == c == "flag=true&n=7"


def test_values_are_url_encoded() -> None:
    params = [param("q", STR)]
    assert canonical_params(params, b"q=a%20b%26c%3Dd") == "q=a+b%26c%3Dd"
    assert canonical_params(params, b"q=caf%C3%A9") == "q=caf%C3%A9"


def test_blank_value_is_kept() -> None:
    assert canonical_params([param("q", STR, "default")], b"q=") == "q="


@pytest.mark.parametrize(
    "raw, expected",
    [("true", "true"), ("1", "true"), ("Yes", "true"), ("FALSE", "false"), ("0", "false"), ("no", "false")],
)
def test_bool_spellings(raw: str, expected: str) -> None:
    assert canonical_params([param("on", BOOL)], f"on={raw}".encode()) == f"on={expected}"


def test_int_normalised() -> None:
    assert canonical_params([param("n", INT)], b"n=-0012") == "n=-12"


def test_bad_int_names_the_parameter() -> None:
    with pytest.raises(ParameterError, match=r"parameter 'size' must be an integer, got 'big'"):
        canonical_params([param("size", INT)], b"size=big")


def test_bad_bool_names_the_parameter() -> None:
    with pytest.raises(ParameterError, match=r"parameter 'verbose' must be true or false, got 'maybe'"):
        canonical_params([param("verbose", BOOL)], b"verbose=maybe")


def test_missing_required_parameter() -> None:
    params = [param("size", INT, "1"), param("name", STR)]
    with pytest.raises(ParameterError, match=r"missing required parameter 'name'"):
        canonical_params(params, b"size=2")


def test_parameter_error_is_a_value_error() -> None:
    assert issubclass(ParameterError, ValueError)


def test_pool_id() -> None:
    key = bus_pb2.PoolKey(app="demo", function="Model", version=3, params="n=1")
    assert pool_id(key) == "demo/Model/3/n=1"
    assert pool_id(bus_pb2.PoolKey(app="demo", function="f", version=1)) == "demo/f/1/"
