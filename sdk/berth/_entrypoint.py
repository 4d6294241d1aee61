"""`@app.local_entrypoint()`, and turning `berth run` command-line arguments into keyword
arguments of an entrypoint or function, as `modal run` does: each parameter becomes `--name
VALUE` (`--flag` / `--no-flag` for a bool), converted by its annotation (str, int, float, bool;
unannotated ones by their default's type, else str)."""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, get_type_hints

from ._errors import InvalidError

if TYPE_CHECKING:
    from ._app import App

_CONVERTERS: dict[object, Callable[[str], Any]] = {str: str, int: int, float: float}


class LocalEntrypoint:
    """A function marked with `@app.local_entrypoint()`: `berth run app.py` runs it in the local
    process, with the app deployed as an ephemeral copy that its `.remote` calls reach."""

    def __init__(self, app: App, raw_f: Callable[..., Any]) -> None:
        self.app = app
        self.raw_f = raw_f
        self.name: str = raw_f.__name__
        self.__doc__ = raw_f.__doc__
        self.__name__ = raw_f.__name__
        self.__qualname__ = raw_f.__qualname__
        self.__module__ = raw_f.__module__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.raw_f(*args, **kwargs)

    def get_raw_f(self) -> Callable[..., Any]:
        """The undecorated function."""
        return self.raw_f

    def __repr__(self) -> str:
        return f"<berth.LocalEntrypoint {self.name}>"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> Any:  # argparse would exit; the CLI reports InvalidError
        raise InvalidError(f"{self.prog}: {message}\n{self.format_usage().strip()}")


def _is_bool(annotation: object, default: object) -> bool:
    return annotation is bool or (annotation is inspect.Parameter.empty and isinstance(default, bool))


def _converter(name: str, annotation: object, default: object) -> Callable[[str], Any]:
    if annotation is inspect.Parameter.empty:
        annotation = type(default) if default is not inspect.Parameter.empty and default is not None else str
    converter = _CONVERTERS.get(annotation)
    if converter is None:
        raise InvalidError(
            f"parameter {name!r} is annotated {getattr(annotation, '__name__', annotation)}; "
            "`berth run` passes str, int, float and bool parameters from the command line"
        )
    return converter


def parse_args(fn: Callable[..., Any], argv: Sequence[str], *, prog: str) -> dict[str, Any]:
    """`fn`'s keyword arguments from `argv` (`--x 1 --name a --flag`). Raises InvalidError naming
    the problem: an unknown option, a missing required one, a value of the wrong type."""
    signature = inspect.signature(fn)
    try:
        hints = get_type_hints(fn)
    except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the raw ones
        hints = {}
    parser = _Parser(prog=prog, add_help=True, exit_on_error=False)
    for name, param in signature.parameters.items():
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise InvalidError(f"{fn.__name__}(*{name}): `berth run` passes named parameters only")
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            raise InvalidError(f"{fn.__name__}: parameter {name!r} is positional-only; make it a named one")
        annotation = hints.get(name, param.annotation)
        option = "--" + name.replace("_", "-")
        required = param.default is inspect.Parameter.empty
        if _is_bool(annotation, param.default):
            parser.add_argument(
                option,
                dest=name,
                action=argparse.BooleanOptionalAction,
                required=required,
                default=None if required else param.default,
            )
        else:
            converter = _converter(name, annotation, param.default)
            parser.add_argument(
                option,
                dest=name,
                type=converter,
                required=required,
                default=None if required else param.default,
                metavar=name.upper(),
            )
    try:
        parsed, extra = parser.parse_known_args(list(argv))
    except argparse.ArgumentError as exc:
        raise InvalidError(f"{prog}: {exc}") from None
    if extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return vars(parsed)
