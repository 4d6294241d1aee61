from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class WebKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WEB_KIND_UNSPECIFIED: _ClassVar[WebKind]
    WEB_KIND_FASTAPI_ENDPOINT: _ClassVar[WebKind]
    WEB_KIND_ASGI_APP: _ClassVar[WebKind]
    WEB_KIND_WSGI_APP: _ClassVar[WebKind]
    WEB_KIND_WEB_SERVER: _ClassVar[WebKind]

class ParamType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARAM_TYPE_UNSPECIFIED: _ClassVar[ParamType]
    PARAM_TYPE_STR: _ClassVar[ParamType]
    PARAM_TYPE_INT: _ClassVar[ParamType]
    PARAM_TYPE_BOOL: _ClassVar[ParamType]
    PARAM_TYPE_BYTES: _ClassVar[ParamType]
WEB_KIND_UNSPECIFIED: WebKind
WEB_KIND_FASTAPI_ENDPOINT: WebKind
WEB_KIND_ASGI_APP: WebKind
WEB_KIND_WSGI_APP: WebKind
WEB_KIND_WEB_SERVER: WebKind
PARAM_TYPE_UNSPECIFIED: ParamType
PARAM_TYPE_STR: ParamType
PARAM_TYPE_INT: ParamType
PARAM_TYPE_BOOL: ParamType
PARAM_TYPE_BYTES: ParamType

class ImageSpec(_message.Message):
    __slots__ = ("python_version", "steps", "registry_tag", "add_python")
    PYTHON_VERSION_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    REGISTRY_TAG_FIELD_NUMBER: _ClassVar[int]
    ADD_PYTHON_FIELD_NUMBER: _ClassVar[int]
    python_version: str
    steps: _containers.RepeatedCompositeFieldContainer[ImageStep]
    registry_tag: str
    add_python: str
    def __init__(self, python_version: _Optional[str] = ..., steps: _Optional[_Iterable[_Union[ImageStep, _Mapping]]] = ..., registry_tag: _Optional[str] = ..., add_python: _Optional[str] = ...) -> None: ...

class ImageStep(_message.Message):
    __slots__ = ("pip_install", "env", "workdir", "add_files", "run_commands", "apt_install")
    PIP_INSTALL_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    WORKDIR_FIELD_NUMBER: _ClassVar[int]
    ADD_FILES_FIELD_NUMBER: _ClassVar[int]
    RUN_COMMANDS_FIELD_NUMBER: _ClassVar[int]
    APT_INSTALL_FIELD_NUMBER: _ClassVar[int]
    pip_install: PipInstall
    env: EnvVars
    workdir: str
    add_files: AddFiles
    run_commands: RunCommands
    apt_install: AptInstall
    def __init__(self, pip_install: _Optional[_Union[PipInstall, _Mapping]] = ..., env: _Optional[_Union[EnvVars, _Mapping]] = ..., workdir: _Optional[str] = ..., add_files: _Optional[_Union[AddFiles, _Mapping]] = ..., run_commands: _Optional[_Union[RunCommands, _Mapping]] = ..., apt_install: _Optional[_Union[AptInstall, _Mapping]] = ...) -> None: ...

class RunCommands(_message.Message):
    __slots__ = ("commands",)
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, commands: _Optional[_Iterable[str]] = ...) -> None: ...

class AptInstall(_message.Message):
    __slots__ = ("packages",)
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    packages: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, packages: _Optional[_Iterable[str]] = ...) -> None: ...

class PipInstall(_message.Message):
    __slots__ = ("packages", "extra_args")
    PACKAGES_FIELD_NUMBER: _ClassVar[int]
    EXTRA_ARGS_FIELD_NUMBER: _ClassVar[int]
    packages: _containers.RepeatedScalarFieldContainer[str]
    extra_args: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, packages: _Optional[_Iterable[str]] = ..., extra_args: _Optional[_Iterable[str]] = ...) -> None: ...

class EnvVars(_message.Message):
    __slots__ = ("vars",)
    class VarsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VARS_FIELD_NUMBER: _ClassVar[int]
    vars: _containers.ScalarMap[str, str]
    def __init__(self, vars: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AddFiles(_message.Message):
    __slots__ = ("remote_path", "files", "python_path")
    REMOTE_PATH_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    PYTHON_PATH_FIELD_NUMBER: _ClassVar[int]
    remote_path: str
    files: _containers.RepeatedCompositeFieldContainer[ImageFile]
    python_path: bool
    def __init__(self, remote_path: _Optional[str] = ..., files: _Optional[_Iterable[_Union[ImageFile, _Mapping]]] = ..., python_path: _Optional[bool] = ...) -> None: ...

class ImageFile(_message.Message):
    __slots__ = ("path", "content", "mode")
    PATH_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    path: str
    content: bytes
    mode: int
    def __init__(self, path: _Optional[str] = ..., content: _Optional[bytes] = ..., mode: _Optional[int] = ...) -> None: ...

class ClassParameter(_message.Message):
    __slots__ = ("name", "type", "has_default", "default")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    HAS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: ParamType
    has_default: bool
    default: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[ParamType, str]] = ..., has_default: _Optional[bool] = ..., default: _Optional[str] = ...) -> None: ...

class WebSpec(_message.Message):
    __slots__ = ("kind", "method", "label", "docs", "requires_proxy_auth", "custom_domains", "port", "startup_timeout")
    KIND_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    DOCS_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_PROXY_AUTH_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    kind: WebKind
    method: str
    label: str
    docs: bool
    requires_proxy_auth: bool
    custom_domains: _containers.RepeatedScalarFieldContainer[str]
    port: int
    startup_timeout: float
    def __init__(self, kind: _Optional[_Union[WebKind, str]] = ..., method: _Optional[str] = ..., label: _Optional[str] = ..., docs: _Optional[bool] = ..., requires_proxy_auth: _Optional[bool] = ..., custom_domains: _Optional[_Iterable[str]] = ..., port: _Optional[int] = ..., startup_timeout: _Optional[float] = ...) -> None: ...

class ScalingSpec(_message.Message):
    __slots__ = ("max_inputs", "target_inputs", "min_containers", "max_containers", "buffer_containers", "scaledown_window", "timeout", "startup_timeout", "cpu", "memory_mib")
    MAX_INPUTS_FIELD_NUMBER: _ClassVar[int]
    TARGET_INPUTS_FIELD_NUMBER: _ClassVar[int]
    MIN_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    MAX_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    BUFFER_CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    SCALEDOWN_WINDOW_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    STARTUP_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    max_inputs: int
    target_inputs: int
    min_containers: int
    max_containers: int
    buffer_containers: int
    scaledown_window: float
    timeout: float
    startup_timeout: float
    cpu: float
    memory_mib: int
    def __init__(self, max_inputs: _Optional[int] = ..., target_inputs: _Optional[int] = ..., min_containers: _Optional[int] = ..., max_containers: _Optional[int] = ..., buffer_containers: _Optional[int] = ..., scaledown_window: _Optional[float] = ..., timeout: _Optional[float] = ..., startup_timeout: _Optional[float] = ..., cpu: _Optional[float] = ..., memory_mib: _Optional[int] = ...) -> None: ...

class FunctionSpec(_message.Message):
    __slots__ = ("name", "object_name", "method_name", "web", "scaling", "image", "secret_names", "env", "parameters", "generator")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    OBJECT_NAME_FIELD_NUMBER: _ClassVar[int]
    METHOD_NAME_FIELD_NUMBER: _ClassVar[int]
    WEB_FIELD_NUMBER: _ClassVar[int]
    SCALING_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SECRET_NAMES_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    object_name: str
    method_name: str
    web: WebSpec
    scaling: ScalingSpec
    image: ImageSpec
    secret_names: _containers.RepeatedScalarFieldContainer[str]
    env: _containers.ScalarMap[str, str]
    parameters: _containers.RepeatedCompositeFieldContainer[ClassParameter]
    generator: bool
    def __init__(self, name: _Optional[str] = ..., object_name: _Optional[str] = ..., method_name: _Optional[str] = ..., web: _Optional[_Union[WebSpec, _Mapping]] = ..., scaling: _Optional[_Union[ScalingSpec, _Mapping]] = ..., image: _Optional[_Union[ImageSpec, _Mapping]] = ..., secret_names: _Optional[_Iterable[str]] = ..., env: _Optional[_Mapping[str, str]] = ..., parameters: _Optional[_Iterable[_Union[ClassParameter, _Mapping]]] = ..., generator: _Optional[bool] = ...) -> None: ...

class AppSpec(_message.Message):
    __slots__ = ("name", "functions", "entry_module")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FUNCTIONS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_MODULE_FIELD_NUMBER: _ClassVar[int]
    name: str
    functions: _containers.RepeatedCompositeFieldContainer[FunctionSpec]
    entry_module: str
    def __init__(self, name: _Optional[str] = ..., functions: _Optional[_Iterable[_Union[FunctionSpec, _Mapping]]] = ..., entry_module: _Optional[str] = ...) -> None: ...
