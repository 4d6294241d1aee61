from berth.v1 import spec_pb2 as _spec_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class BuildRequest(_message.Message):
    __slots__ = ("image", "runtime")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    image: _spec_pb2.ImageSpec
    runtime: str
    def __init__(self, image: _Optional[_Union[_spec_pb2.ImageSpec, _Mapping]] = ..., runtime: _Optional[str] = ...) -> None: ...

class BuildEvent(_message.Message):
    __slots__ = ("log_line", "image", "detail_line")
    LOG_LINE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_LINE_FIELD_NUMBER: _ClassVar[int]
    log_line: str
    image: BuiltImage
    detail_line: str
    def __init__(self, log_line: _Optional[str] = ..., image: _Optional[_Union[BuiltImage, _Mapping]] = ..., detail_line: _Optional[str] = ...) -> None: ...

class BuiltImage(_message.Message):
    __slots__ = ("image_id", "cache_hit", "python", "root", "docker_tag", "env", "workdir", "python_path", "installed")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    PYTHON_FIELD_NUMBER: _ClassVar[int]
    ROOT_FIELD_NUMBER: _ClassVar[int]
    DOCKER_TAG_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    WORKDIR_FIELD_NUMBER: _ClassVar[int]
    PYTHON_PATH_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    cache_hit: bool
    python: str
    root: str
    docker_tag: str
    env: _containers.ScalarMap[str, str]
    workdir: str
    python_path: _containers.RepeatedScalarFieldContainer[str]
    installed: int
    def __init__(self, image_id: _Optional[str] = ..., cache_hit: _Optional[bool] = ..., python: _Optional[str] = ..., root: _Optional[str] = ..., docker_tag: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., workdir: _Optional[str] = ..., python_path: _Optional[_Iterable[str]] = ..., installed: _Optional[int] = ...) -> None: ...
