"""Classes registered with `@app.cls()`: parameters, lifecycle hooks and web methods."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import _calls
from ._compat import HostedNames
from ._errors import InvalidError
from ._function import Options
from ._methods import Obj, RemoteCls, is_method
from ._partial import HOOK_ATTR, Concurrency, WebConfig, concurrency, web_config
from ._spec_rules import spell_param as spell
from .v1 import spec_pb2

if TYPE_CHECKING:
    from ._app import App

_MISSING: Any = object()

PARAM_TYPES: dict[object, spec_pb2.ParamType] = {
    str: spec_pb2.PARAM_TYPE_STR,
    "str": spec_pb2.PARAM_TYPE_STR,
    int: spec_pb2.PARAM_TYPE_INT,
    "int": spec_pb2.PARAM_TYPE_INT,
    bool: spec_pb2.PARAM_TYPE_BOOL,
    "bool": spec_pb2.PARAM_TYPE_BOOL,
    bytes: spec_pb2.PARAM_TYPE_BYTES,
    "bytes": spec_pb2.PARAM_TYPE_BYTES,
}
_PY_TYPES: dict[spec_pb2.ParamType, type] = {
    spec_pb2.PARAM_TYPE_STR: str,
    spec_pb2.PARAM_TYPE_INT: int,
    spec_pb2.PARAM_TYPE_BOOL: bool,
    spec_pb2.PARAM_TYPE_BYTES: bytes,
}


class _Parameter:
    def __init__(self, default: Any) -> None:
        self.default = default


def parameter(*, default: Any = _MISSING) -> Any:
    """Declares a class parameter of an `@app.cls()` class, set per container from the URL query.

    Annotate it with `str`, `int`, `bool` or `bytes`::

        @app.cls()
        class Server:
            root: str = berth.parameter(default=".")
    """
    return _Parameter(default)


@dataclass(frozen=True)
class ParamDef:
    """One declared parameter: its name, type, and default if it has one."""

    name: str
    type: spec_pb2.ParamType
    default: Any = _MISSING

    @property
    def has_default(self) -> bool:
        return self.default is not _MISSING

    def to_spec(self) -> spec_pb2.ClassParameter:
        return spec_pb2.ClassParameter(
            name=self.name,
            type=self.type,
            has_default=self.has_default,
            default=spell(self.default) if self.has_default else "",
        )


def _check_value(cls_name: str, param: ParamDef, value: Any) -> None:
    expected = _PY_TYPES[param.type]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise InvalidError(
            f"{cls_name} parameter {param.name!r} is declared {expected.__name__}, got {value!r}"
        )


def _find_parameters(user_cls: type) -> tuple[ParamDef, ...]:
    annotations = inspect.get_annotations(user_cls)
    params = []
    for name, value in vars(user_cls).items():
        if not isinstance(value, _Parameter):
            continue
        if name not in annotations:
            raise InvalidError(
                f"{user_cls.__name__}.{name} needs a type annotation: {name}: str = berth.parameter(...)"
            )
        kind = PARAM_TYPES.get(annotations[name])
        if kind is None:
            raise InvalidError(
                f"{user_cls.__name__}.{name} is annotated {annotations[name]!r}; parameters must be "
                "str, int, bool or bytes"
            )
        param = ParamDef(name, kind, value.default)
        if param.has_default:
            _check_value(user_cls.__name__, param, value.default)
        params.append(param)
    return tuple(params)


class Cls(metaclass=HostedNames):
    """A class registered with `@app.cls()`. Call it with its parameters to get an instance locally."""

    _berth_registered = True

    def __init__(self, app: App, user_cls: type, options: Options) -> None:
        self.app = app
        self.user_cls = user_cls
        self.options = options
        self.name: str = user_cls.__name__
        self.concurrency: Concurrency | None = concurrency(user_cls)
        self.parameters = _find_parameters(user_cls)
        self.web_methods: dict[str, WebConfig] = {}
        self.enter_methods: list[str] = []
        self.exit_methods: list[str] = []
        # `@berth.method()` methods: each deploys as the function "Class.method" (berth._methods).
        self.call_methods: list[str] = []
        for attr, value in vars(user_cls).items():
            if is_method(value):
                self.call_methods.append(attr)
            web = web_config(value)
            if web is not None:
                self.web_methods[attr] = web
            hook = getattr(value, HOOK_ATTR, None)
            if hook == "enter":
                self.enter_methods.append(attr)
            elif hook == "exit":
                self.exit_methods.append(attr)
        self.__doc__ = user_cls.__doc__
        self.__name__ = user_cls.__name__
        self.__qualname__ = user_cls.__qualname__
        self.__module__ = user_cls.__module__

    def instantiate(self, values: Mapping[str, Any]) -> Any:
        """An instance of the user's class with parameters set (defaults for the missing ones).

        Lifecycle hooks are not run; the in-container runner runs them.
        """
        known = {p.name for p in self.parameters}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidError(
                f"{self.name} has no parameter {unknown[0]!r}; "
                f"its parameters: {', '.join(sorted(known)) or 'none'}"
            )
        user_cls: Any = self.user_cls
        obj = user_cls.__new__(user_cls)
        for param in self.parameters:
            if param.name in values:
                value = values[param.name]
                _check_value(self.name, param, value)
            elif param.has_default:
                value = param.default
            else:
                raise InvalidError(f"{self.name} needs a value for its parameter {param.name!r}")
            setattr(obj, param.name, value)
        if user_cls.__init__ is not object.__init__:
            obj.__init__()
        return obj

    def __call__(self, **kwargs: Any) -> Obj:
        """The class with these parameter values: its `@berth.method()` methods have `.remote`
        (`Model(p=1).predict.remote(x)`); other attributes are a local instance's."""
        return Obj(self, kwargs)

    def method_target(self, method_name: str, parameters: Mapping[str, str]) -> _calls.Target:
        """Where a call of `method_name` with these (spelled) parameters goes."""
        app_name, dev = self.app.call_copy()
        return _calls.Target(app_name, f"{self.name}.{method_name}", dev, dict(parameters))

    @staticmethod
    def from_name(app_name: str, name: str) -> RemoteCls:
        """The class `name` of the deployed app `app_name`: `Cls.from_name("app", "Model")(p=1)
        .predict.remote(x)`. Each method is looked up at its first call (NotFoundError then)."""
        return RemoteCls(app_name, name)

    def get_user_cls(self) -> type:
        """The undecorated class."""
        return self.user_cls

    def method(self, obj: Any, name: str) -> Callable[..., Any]:
        """The bound method `name` of an instance."""
        return getattr(obj, name)  # type: ignore[no-any-return]

    def __repr__(self) -> str:
        return f"<berth.Cls {self.name}>"
