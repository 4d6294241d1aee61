from berth.v1 import build_pb2 as _build_pb2
from berth.v1 import spec_pb2 as _spec_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Header(_message.Message):
    __slots__ = ("name", "value")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    name: bytes
    value: bytes
    def __init__(self, name: _Optional[bytes] = ..., value: _Optional[bytes] = ...) -> None: ...

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

class RequestHead(_message.Message):
    __slots__ = ("method", "scheme", "path", "raw_path", "query_string", "headers", "client_host", "client_port", "http_version", "websocket", "subprotocols", "traceparent", "body", "end")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    RAW_PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_STRING_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_HOST_FIELD_NUMBER: _ClassVar[int]
    CLIENT_PORT_FIELD_NUMBER: _ClassVar[int]
    HTTP_VERSION_FIELD_NUMBER: _ClassVar[int]
    WEBSOCKET_FIELD_NUMBER: _ClassVar[int]
    SUBPROTOCOLS_FIELD_NUMBER: _ClassVar[int]
    TRACEPARENT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    method: str
    scheme: str
    path: str
    raw_path: bytes
    query_string: bytes
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    client_host: str
    client_port: int
    http_version: str
    websocket: bool
    subprotocols: _containers.RepeatedScalarFieldContainer[str]
    traceparent: str
    body: bytes
    end: bool
    def __init__(self, method: _Optional[str] = ..., scheme: _Optional[str] = ..., path: _Optional[str] = ..., raw_path: _Optional[bytes] = ..., query_string: _Optional[bytes] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., client_host: _Optional[str] = ..., client_port: _Optional[int] = ..., http_version: _Optional[str] = ..., websocket: _Optional[bool] = ..., subprotocols: _Optional[_Iterable[str]] = ..., traceparent: _Optional[str] = ..., body: _Optional[bytes] = ..., end: _Optional[bool] = ...) -> None: ...

class ResponseHead(_message.Message):
    __slots__ = ("status", "headers", "body", "end")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    status: int
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    body: bytes
    end: bool
    def __init__(self, status: _Optional[int] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., body: _Optional[bytes] = ..., end: _Optional[bool] = ...) -> None: ...

class Chunk(_message.Message):
    __slots__ = ("data", "end")
    DATA_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    end: bool
    def __init__(self, data: _Optional[bytes] = ..., end: _Optional[bool] = ...) -> None: ...

class Credit(_message.Message):
    __slots__ = ("bytes",)
    BYTES_FIELD_NUMBER: _ClassVar[int]
    bytes: int
    def __init__(self, bytes: _Optional[int] = ...) -> None: ...

class Cancel(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StreamError(_message.Message):
    __slots__ = ("status", "message")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: int
    message: str
    def __init__(self, status: _Optional[int] = ..., message: _Optional[str] = ...) -> None: ...

class WebSocketAccept(_message.Message):
    __slots__ = ("subprotocol", "headers")
    SUBPROTOCOL_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    subprotocol: str
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    def __init__(self, subprotocol: _Optional[str] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ...) -> None: ...

class WebSocketMessage(_message.Message):
    __slots__ = ("binary", "text")
    BINARY_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    binary: bytes
    text: str
    def __init__(self, binary: _Optional[bytes] = ..., text: _Optional[str] = ...) -> None: ...

class WebSocketClose(_message.Message):
    __slots__ = ("code", "reason")
    CODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    code: int
    reason: str
    def __init__(self, code: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class RunnerReady(_message.Message):
    __slots__ = ("pid",)
    PID_FIELD_NUMBER: _ClassVar[int]
    pid: int
    def __init__(self, pid: _Optional[int] = ...) -> None: ...

class RunnerFailed(_message.Message):
    __slots__ = ("message",)
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    message: str
    def __init__(self, message: _Optional[str] = ...) -> None: ...

class RunnerShutdown(_message.Message):
    __slots__ = ("grace_seconds",)
    GRACE_SECONDS_FIELD_NUMBER: _ClassVar[int]
    grace_seconds: float
    def __init__(self, grace_seconds: _Optional[float] = ...) -> None: ...

class Frame(_message.Message):
    __slots__ = ("stream", "request", "body", "response", "response_body", "credit", "cancel", "error", "ws_accept", "ws_message", "ws_close", "ready", "failed", "shutdown")
    STREAM_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_BODY_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    WS_ACCEPT_FIELD_NUMBER: _ClassVar[int]
    WS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    WS_CLOSE_FIELD_NUMBER: _ClassVar[int]
    READY_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    SHUTDOWN_FIELD_NUMBER: _ClassVar[int]
    stream: int
    request: RequestHead
    body: Chunk
    response: ResponseHead
    response_body: Chunk
    credit: Credit
    cancel: Cancel
    error: StreamError
    ws_accept: WebSocketAccept
    ws_message: WebSocketMessage
    ws_close: WebSocketClose
    ready: RunnerReady
    failed: RunnerFailed
    shutdown: RunnerShutdown
    def __init__(self, stream: _Optional[int] = ..., request: _Optional[_Union[RequestHead, _Mapping]] = ..., body: _Optional[_Union[Chunk, _Mapping]] = ..., response: _Optional[_Union[ResponseHead, _Mapping]] = ..., response_body: _Optional[_Union[Chunk, _Mapping]] = ..., credit: _Optional[_Union[Credit, _Mapping]] = ..., cancel: _Optional[_Union[Cancel, _Mapping]] = ..., error: _Optional[_Union[StreamError, _Mapping]] = ..., ws_accept: _Optional[_Union[WebSocketAccept, _Mapping]] = ..., ws_message: _Optional[_Union[WebSocketMessage, _Mapping]] = ..., ws_close: _Optional[_Union[WebSocketClose, _Mapping]] = ..., ready: _Optional[_Union[RunnerReady, _Mapping]] = ..., failed: _Optional[_Union[RunnerFailed, _Mapping]] = ..., shutdown: _Optional[_Union[RunnerShutdown, _Mapping]] = ...) -> None: ...

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
    __slots__ = ("agent_id", "runtime", "containers", "capacity", "isolation")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    ISOLATION_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    runtime: str
    containers: _containers.RepeatedCompositeFieldContainer[ContainerStatus]
    capacity: int
    isolation: str
    def __init__(self, agent_id: _Optional[str] = ..., runtime: _Optional[str] = ..., containers: _Optional[_Iterable[_Union[ContainerStatus, _Mapping]]] = ..., capacity: _Optional[int] = ..., isolation: _Optional[str] = ...) -> None: ...

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

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CallRecord(_message.Message):
    __slots__ = ("app", "function", "edge_id", "updated_at_ms", "done", "result")
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    app: str
    function: str
    edge_id: str
    updated_at_ms: int
    done: bool
    result: ResponseHead
    def __init__(self, app: _Optional[str] = ..., function: _Optional[str] = ..., edge_id: _Optional[str] = ..., updated_at_ms: _Optional[int] = ..., done: _Optional[bool] = ..., result: _Optional[_Union[ResponseHead, _Mapping]] = ...) -> None: ...

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
