"""Turning an imported app module into the `AppSpec` that `berth deploy` sends.

The spec is deterministic: the same source gives byte-identical output with
`SerializeToString(deterministic=True)` (maps are filled in sorted order as well).
"""

from __future__ import annotations

from types import ModuleType

from ._app import App
from ._cls import Cls
from ._errors import InvalidError
from ._function import Function, Options
from ._image import Image
from ._partial import Concurrency, WebConfig
from ._remote import is_generator
from ._spec_rules import DEFAULT_MAX_INPUTS, DEFAULT_SCALEDOWN_WINDOW, DEFAULT_TIMEOUT
from .v1 import spec_pb2


def find_app(module: ModuleType) -> App:
    """The one `berth.App` among the module's globals."""
    found: dict[int, tuple[str, App]] = {}
    for attr, value in vars(module).items():
        if isinstance(value, App) and id(value) not in found:
            found[id(value)] = (attr, value)
    if not found:
        raise InvalidError(
            f"No berth.App found in {module.__name__}: "
            "define one at module level, e.g. app = berth.App('my-app')"
        )
    if len(found) > 1:
        names = ", ".join(sorted(attr for attr, _ in found.values()))
        raise InvalidError(
            f"{module.__name__} defines several berth.App objects ({names}); keep one per file"
        )
    return next(iter(found.values()))[1]


def _scaling(options: Options, conc: Concurrency | None) -> spec_pb2.ScalingSpec:
    return spec_pb2.ScalingSpec(
        max_inputs=conc.max_inputs if conc else DEFAULT_MAX_INPUTS,
        target_inputs=(conc.target_inputs or 0) if conc else 0,
        min_containers=options.min_containers,
        max_containers=options.max_containers or 0,
        buffer_containers=options.buffer_containers,
        scaledown_window=options.scaledown_window or DEFAULT_SCALEDOWN_WINDOW,
        timeout=options.timeout or DEFAULT_TIMEOUT,
        startup_timeout=options.startup_timeout or 0.0,
        cpu=options.cpu or 0.0,
        memory_mib=options.memory or 0,
    )


def _function_spec(
    app: App,
    *,
    name: str,
    object_name: str,
    method_name: str,
    web: WebConfig | None,
    options: Options,
    conc: Concurrency | None,
) -> spec_pb2.FunctionSpec:
    image = options.image or app.image or Image.debian_slim()
    secrets = (*app.secrets, *options.secrets)
    env: dict[str, str] = {}
    for secret in secrets:
        env.update(secret.values)
    env.update(options.env)
    secret_names: list[str] = []
    for secret in secrets:
        if secret.name is not None and secret.name not in secret_names:
            secret_names.append(secret.name)
    return spec_pb2.FunctionSpec(
        name=name,
        object_name=object_name,
        method_name=method_name,
        web=web.to_spec() if web else spec_pb2.WebSpec(kind=spec_pb2.WEB_KIND_UNSPECIFIED),
        scaling=_scaling(options, conc),
        image=image.to_spec(),
        secret_names=secret_names,
        env=dict(sorted(env.items())),
    )


def _check_module_level(qualname: str) -> None:
    if "<locals>" in qualname or "." in qualname:
        raise InvalidError(
            f"{qualname} is not defined at module level; Berth loads functions and classes by their "
            "module-level name, so move it to the top level of the file"
        )


def build_app_spec(app: App, *, entry_module: str) -> spec_pb2.AppSpec:
    """The AppSpec of `app`: one FunctionSpec per function, and per web method and
    `@berth.method()` method of a class."""
    spec = spec_pb2.AppSpec(name=app.name or "", entry_module=entry_module)
    for obj in app._objects.values():
        if isinstance(obj, Function):
            _check_module_level(obj.__qualname__)
            function = _function_spec(
                app,
                name=obj.name,
                object_name=obj.name,
                method_name="",
                web=obj.web,
                options=obj.options,
                conc=obj.concurrency,
            )
            function.generator = is_generator(obj.raw_f)
            spec.functions.append(function)
        elif isinstance(obj, Cls):
            _check_module_level(obj.__qualname__)
            for method_name, web in obj.web_methods.items():
                fn = _function_spec(
                    app,
                    name=f"{obj.name}.{method_name}",
                    object_name=obj.name,
                    method_name=method_name,
                    web=web,
                    options=obj.options,
                    conc=obj.concurrency,
                )
                fn.parameters.extend(p.to_spec() for p in obj.parameters)
                spec.functions.append(fn)
            for method_name in obj.call_methods:  # @berth.method(): called with .remote, no URL
                fn = _function_spec(
                    app,
                    name=f"{obj.name}.{method_name}",
                    object_name=obj.name,
                    method_name=method_name,
                    web=None,
                    options=obj.options,
                    conc=obj.concurrency,
                )
                fn.parameters.extend(p.to_spec() for p in obj.parameters)
                fn.generator = is_generator(getattr(obj.user_cls, method_name))
                spec.functions.append(fn)
    return spec
