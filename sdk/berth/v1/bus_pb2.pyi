from berth.v1 import build_pb2 as _build_pb2
from berth.v1 import spec_pb2 as _spec_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PoolKey(_message.Message):
    __slots__ = ("app", "function", "version", "params")
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    app: str
    function: str
    version: int
    params: str
    def __init__(self, app: _Optional[str] = ..., function: _Optional[str] = ..., version: _Optional[int] = ..., params: _Optional[str] = ...) -> None: ...

class BootOrder(_message.Message):
    __slots__ = ("container_id", "pool", "function", "image", "bundle_id", "entry_module", "env", "parameters")
    class EnvEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRY_MODULE_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    pool: PoolKey
    function: _spec_pb2.FunctionSpec
    image: _build_pb2.BuiltImage
    bundle_id: str
    entry_module: str
    env: _containers.ScalarMap[str, str]
    parameters: _containers.ScalarMap[str, str]
    def __init__(self, container_id: _Optional[str] = ..., pool: _Optional[_Union[PoolKey, _Mapping]] = ..., function: _Optional[_Union[_spec_pb2.FunctionSpec, _Mapping]] = ..., image: _Optional[_Union[_build_pb2.BuiltImage, _Mapping]] = ..., bundle_id: _Optional[str] = ..., entry_module: _Optional[str] = ..., env: _Optional[_Mapping[str, str]] = ..., parameters: _Optional[_Mapping[str, str]] = ...) -> None: ...

class BootResult(_message.Message):
    __slots__ = ("container_id", "data_subject", "error", "boot_seconds")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    BOOT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    data_subject: str
    error: str
    boot_seconds: float
    def __init__(self, container_id: _Optional[str] = ..., data_subject: _Optional[str] = ..., error: _Optional[str] = ..., boot_seconds: _Optional[float] = ...) -> None: ...

class StopOrder(_message.Message):
    __slots__ = ("container_id", "reason")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    reason: str
    def __init__(self, container_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class StopResult(_message.Message):
    __slots__ = ("container_id", "exit_code")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    exit_code: int
    def __init__(self, container_id: _Optional[str] = ..., exit_code: _Optional[int] = ...) -> None: ...

class ContainerStatus(_message.Message):
    __slots__ = ("container_id", "pool", "inflight", "idle_ms")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    INFLIGHT_FIELD_NUMBER: _ClassVar[int]
    IDLE_MS_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    pool: PoolKey
    inflight: int
    idle_ms: int
    def __init__(self, container_id: _Optional[str] = ..., pool: _Optional[_Union[PoolKey, _Mapping]] = ..., inflight: _Optional[int] = ..., idle_ms: _Optional[int] = ...) -> None: ...

class AgentHeartbeat(_message.Message):
    __slots__ = ("agent_id", "runtime", "containers", "capacity", "isolation", "cpu", "memory_mib")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    CPU_FIELD_NUMBER: _ClassVar[int]
    MEMORY_MIB_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    runtime: str
    containers: _containers.RepeatedCompositeFieldContainer[ContainerStatus]
    capacity: int
    isolation: str
    cpu: float
    memory_mib: int
    def __init__(self, agent_id: _Optional[str] = ..., runtime: _Optional[str] = ..., containers: _Optional[_Iterable[_Union[ContainerStatus, _Mapping]]] = ..., capacity: _Optional[int] = ..., isolation: _Optional[str] = ..., cpu: _Optional[float] = ..., memory_mib: _Optional[int] = ...) -> None: ...

class ContainerExited(_message.Message):
    __slots__ = ("agent_id", "container_id", "exit_code", "message")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    container_id: str
    exit_code: int
    message: str
    def __init__(self, agent_id: _Optional[str] = ..., container_id: _Optional[str] = ..., exit_code: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class Demand(_message.Message):
    __slots__ = ("edge_id", "pool", "waiting", "inflight")
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    POOL_FIELD_NUMBER: _ClassVar[int]
    WAITING_FIELD_NUMBER: _ClassVar[int]
    INFLIGHT_FIELD_NUMBER: _ClassVar[int]
    edge_id: str
    pool: PoolKey
    waiting: int
    inflight: int
    def __init__(self, edge_id: _Optional[str] = ..., pool: _Optional[_Union[PoolKey, _Mapping]] = ..., waiting: _Optional[int] = ..., inflight: _Optional[int] = ...) -> None: ...

class LeaseGrant(_message.Message):
    __slots__ = ("pool", "container_id", "data_subject", "slots")
    POOL_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_SUBJECT_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    pool: PoolKey
    container_id: str
    data_subject: str
    slots: int
    def __init__(self, pool: _Optional[_Union[PoolKey, _Mapping]] = ..., container_id: _Optional[str] = ..., data_subject: _Optional[str] = ..., slots: _Optional[int] = ...) -> None: ...

class LeaseRevoke(_message.Message):
    __slots__ = ("container_id", "lost")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    LOST_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    lost: bool
    def __init__(self, container_id: _Optional[str] = ..., lost: _Optional[bool] = ...) -> None: ...

class PoolFailure(_message.Message):
    __slots__ = ("pool", "status", "message", "retry_after")
    POOL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    pool: PoolKey
    status: int
    message: str
    retry_after: int
    def __init__(self, pool: _Optional[_Union[PoolKey, _Mapping]] = ..., status: _Optional[int] = ..., message: _Optional[str] = ..., retry_after: _Optional[int] = ...) -> None: ...

class EdgeControl(_message.Message):
    __slots__ = ("grant", "revoke", "failure")
    GRANT_FIELD_NUMBER: _ClassVar[int]
    REVOKE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_FIELD_NUMBER: _ClassVar[int]
    grant: LeaseGrant
    revoke: LeaseRevoke
    failure: PoolFailure
    def __init__(self, grant: _Optional[_Union[LeaseGrant, _Mapping]] = ..., revoke: _Optional[_Union[LeaseRevoke, _Mapping]] = ..., failure: _Optional[_Union[PoolFailure, _Mapping]] = ...) -> None: ...

class LeaseReleased(_message.Message):
    __slots__ = ("edge_id", "container_id")
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    edge_id: str
    container_id: str
    def __init__(self, edge_id: _Optional[str] = ..., container_id: _Optional[str] = ...) -> None: ...

class EdgeHello(_message.Message):
    __slots__ = ("edge_id",)
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    edge_id: str
    def __init__(self, edge_id: _Optional[str] = ...) -> None: ...

class TokenCheck(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class TokenVerdict(_message.Message):
    __slots__ = ("valid",)
    VALID_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    def __init__(self, valid: _Optional[bool] = ...) -> None: ...

class MetricsSnapshot(_message.Message):
    __slots__ = ("text",)
    TEXT_FIELD_NUMBER: _ClassVar[int]
    text: bytes
    def __init__(self, text: _Optional[bytes] = ...) -> None: ...

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
