"""Class containers: instantiating the user's class with its parameters, and its enter/exit hooks."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from berth._cls import Cls, ParamDef
from berth._errors import InvalidError
from berth._spec_rules import ParameterValueError, parse_param


def convert(param: ParamDef, text: str) -> Any:
    """A parameter value from its URL spelling, as the declared type."""
    try:
        return parse_param(param, text)
    except ParameterValueError as exc:
        raise InvalidError(str(exc)) from None


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
