from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ZygoteReady(_message.Message):
    __slots__ = ("pid", "modules")
    PID_FIELD_NUMBER: _ClassVar[int]
    MODULES_FIELD_NUMBER: _ClassVar[int]
    pid: int
    modules: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pid: _Optional[int] = ..., modules: _Optional[_Iterable[str]] = ...) -> None: ...

class ZygoteFork(_message.Message):
    __slots__ = ("request_id", "env", "cwd", "isolate_network")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    CWD_FIELD_NUMBER: _ClassVar[int]
    ISOLATE_NETWORK_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    env: _containers.ScalarMap[str, str]
    cwd: str
    isolate_network: bool
    def __init__(self, request_id: _Optional[int] = ..., env: _Optional[_Mapping[str, str]] = ..., cwd: _Optional[str] = ..., isolate_network: _Optional[bool] = ...) -> None: ...

class ZygoteForked(_message.Message):
    __slots__ = ("request_id", "pid", "error")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    pid: int
    error: str
    def __init__(self, request_id: _Optional[int] = ..., pid: _Optional[int] = ..., error: _Optional[str] = ...) -> None: ...

class ZygoteExit(_message.Message):
    __slots__ = ("pid", "exit_code")
    PID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    pid: int
    exit_code: int
    def __init__(self, pid: _Optional[int] = ..., exit_code: _Optional[int] = ...) -> None: ...

class ZygoteMessage(_message.Message):
    __slots__ = ("ready", "fork", "forked", "exit")
    READY_FIELD_NUMBER: _ClassVar[int]
    FORK_FIELD_NUMBER: _ClassVar[int]
    FORKED_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    ready: ZygoteReady
    fork: ZygoteFork
    forked: ZygoteForked
    exit: ZygoteExit
    def __init__(self, ready: _Optional[_Union[ZygoteReady, _Mapping]] = ..., fork: _Optional[_Union[ZygoteFork, _Mapping]] = ..., forked: _Optional[_Union[ZygoteForked, _Mapping]] = ..., exit: _Optional[_Union[ZygoteExit, _Mapping]] = ...) -> None: ...
