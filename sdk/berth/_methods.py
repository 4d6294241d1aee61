"""Remote methods of classes: `@berth.method()`, and `Model(p=1).predict.remote(...)`.

`Model(p=1)` gives an `Obj`: the class's parameters, plus a local instance for `.local()` and
plain attribute access. `obj.predict` is then a handle whose `.remote` calls the function
"Model.predict" with the parameters spelled as a web request's query string spells them, so the
call reaches the same pool of containers that `?p=1` reaches.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from . import _calls
from ._errors import InvalidError
from ._lookup import LookedUp
from ._partial import HOOK_ATTR, web_config
from ._remote import Remote
from ._remote import is_generator as _is_generator
from ._spec_rules import spell_param

if TYPE_CHECKING:
    from ._cls import Cls

METHOD_ATTR = "__berth_method__"
F = TypeVar("F", bound=Callable[..., Any])


def method(*args: object, is_generator: bool | None = None) -> Callable[[F], F]:
    """Marks a method of an `@app.cls()` class as callable remotely: `Model(p=1).predict.remote(x)`.

    Each such method deploys as its own function, "Model.predict". `is_generator` may be left
    out: it is read from the method (a generator is called with `.remote_gen`)::

        @app.cls()
        class Model:
            p: int = berth.parameter(default=0)

            @berth.method()
            def predict(self, x):
                return x * self.p
    """
    if args:
        if len(args) == 1 and callable(args[0]):
            raise InvalidError("Did you forget parentheses? Use @berth.method()")
        raise InvalidError("berth.method() takes keyword arguments only")

    def wrap(fn: F) -> F:
        if not callable(fn) or isinstance(fn, type):
            raise InvalidError(f"@berth.method() goes on a method of a class, got {fn!r}")
        if web_config(fn) is not None or getattr(fn, HOOK_ATTR, None) is not None:
            raise InvalidError(
                f"{getattr(fn, '__name__', fn)}: @berth.method() does not combine with a web decorator "
                "or @enter/@exit; give the other role to another method"
            )
        actual = _is_generator(fn)
        if is_generator is not None and is_generator != actual:
            raise InvalidError(
                f"@berth.method(is_generator={is_generator}) on {fn.__name__}, which "
                f"{'is' if actual else 'is not'} a generator function"
            )
        setattr(fn, METHOD_ATTR, True)
        return fn

    return wrap


def is_method(obj: object) -> bool:
    """Whether `obj` (a class attribute) was marked with `@berth.method()`."""
    return getattr(obj, METHOD_ATTR, False) is True


class MethodHandle(Remote):
    """`obj.predict`: call it (or `.local(...)`) to run the method here, `.remote(...)` to run it
    in a container of the class's pool for these parameters."""

    def __init__(
        self,
        owner: Any,
        cls_name: str,
        name: str,
        parameters: Mapping[str, str],
        local: Callable[..., Any] | None,
    ) -> None:
        self._owner = owner  # the Cls or RemoteCls: it knows which copy of the app to call
        self._cls_name = cls_name
        self._name = name
        self._parameters = dict(parameters)
        self._local = local
        self._generator = _is_generator(local) if local is not None else None

    def _call_target(self) -> _calls.Target:
        return self._owner.method_target(self._name, self._parameters)  # type: ignore[no-any-return]

    def local(self, *args: Any, **kwargs: Any) -> Any:
        """Runs the method in this process, on a local instance."""
        if self._local is None:
            raise InvalidError(
                f"{self._cls_name} was looked up with Cls.from_name: its code is not in this process, so "
                f"{self._name} runs only remotely (.remote(...))"
            )
        return self._local(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.local(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<berth method {self._cls_name}.{self._name}>"


class Obj:
    """`Model(p=1)`: a class with its parameter values. Its `@berth.method()` methods are handles
    with `.remote`; any other attribute is the local instance's."""

    def __init__(self, cls: Cls, values: Mapping[str, Any]) -> None:
        self._cls = cls
        self._instance = cls.instantiate(values)
        self._parameters = {name: spell_param(value) for name, value in values.items()}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._cls.call_methods:
            return MethodHandle(
                self._cls, self._cls.name, name, self._parameters, getattr(self._instance, name)
            )
        return getattr(self._instance, name)

    def __repr__(self) -> str:
        return f"<berth.Cls {self._cls.name} instance {self._parameters}>"


class RemoteObj:
    """`Cls.from_name(app, "Model")(p=1)`: every attribute is a method handle with `.remote`."""

    def __init__(self, owner: RemoteCls, parameters: Mapping[str, str]) -> None:
        self._owner = owner
        self._parameters = dict(parameters)

    def __getattr__(self, name: str) -> MethodHandle:
        if name.startswith("_"):
            raise AttributeError(name)
        return MethodHandle(self._owner, self._owner.name, name, self._parameters, None)


class RemoteCls:
    """`Cls.from_name(app, "Model")`: call it with the class's parameters, then its methods with
    `.remote`, as with a class defined in this process."""

    def __init__(self, app: str, name: str) -> None:
        for what, value in (("app name", app), ("class name", name)):
            if not isinstance(value, str) or not value:
                raise InvalidError(f"Cls.from_name: the {what} must be a non-empty string, got {value!r}")
        self.app = app
        self.name = name
        self._methods: dict[str, LookedUp] = {}

    def method_target(self, method_name: str, parameters: Mapping[str, str]) -> _calls.Target:
        """Where a call of `method_name` goes: looked up once per method (berth._lookup)."""
        looked_up = self._methods.setdefault(method_name, LookedUp(self.app, f"{self.name}.{method_name}"))
        found = looked_up.target()
        return _calls.Target(found.app, found.function, found.dev, dict(parameters))

    def __call__(self, **parameters: Any) -> RemoteObj:
        return RemoteObj(self, {name: spell_param(value) for name, value in parameters.items()})

    def __repr__(self) -> str:
        return f"<berth.Cls {self.app}/{self.name}>"
