"""Class containers: instantiating the user's class with its parameters, and its enter/exit hooks."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from berth._cls import Cls, ParamDef
from berth._errors import InvalidError
from berth.v1 import spec_pb2

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def convert(param: ParamDef, text: str) -> Any:
    """A parameter value from its URL spelling, as the declared type."""
    if param.type == spec_pb2.PARAM_TYPE_INT:
        try:
            return int(text)
        except ValueError:
            raise InvalidError(f"parameter {param.name!r} must be an int, got {text!r}") from None
    if param.type == spec_pb2.PARAM_TYPE_BOOL:
        lowered = text.lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
        raise InvalidError(f"parameter {param.name!r} must be true or false, got {text!r}")
    if param.type == spec_pb2.PARAM_TYPE_BYTES:
        return text.encode("latin-1")
    return text


def instantiate(cls: Cls, parameters: Mapping[str, str]) -> Any:
    """An instance of the user's class, parameters converted from text; missing ones take defaults."""
    by_name = {p.name: p for p in cls.parameters}
    values = {name: convert(by_name[name], text) for name, text in parameters.items() if name in by_name}
    unknown = sorted(set(parameters) - set(by_name))
    if unknown:
        raise InvalidError(f"{cls.name} has no parameter {unknown[0]!r}")
    return cls.instantiate(values)


async def run_hooks(obj: Any, names: list[str]) -> None:
    """Calls the named methods in order, awaiting async ones."""
    for name in names:
        result = getattr(obj, name)()
        if inspect.isawaitable(result):
            await result
