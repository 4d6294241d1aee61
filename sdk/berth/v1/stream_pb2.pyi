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

class RequestHead(_message.Message):
    __slots__ = ("method", "scheme", "path", "raw_path", "query_string", "headers", "client_host", "client_port", "http_version", "websocket", "subprotocols", "traceparent", "body", "end", "call", "caller_container", "caller_app")
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
    CALL_FIELD_NUMBER: _ClassVar[int]
    CALLER_CONTAINER_FIELD_NUMBER: _ClassVar[int]
    CALLER_APP_FIELD_NUMBER: _ClassVar[int]
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
    call: CallHead
    caller_container: str
    caller_app: str
    def __init__(self, method: _Optional[str] = ..., scheme: _Optional[str] = ..., path: _Optional[str] = ..., raw_path: _Optional[bytes] = ..., query_string: _Optional[bytes] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., client_host: _Optional[str] = ..., client_port: _Optional[int] = ..., http_version: _Optional[str] = ..., websocket: _Optional[bool] = ..., subprotocols: _Optional[_Iterable[str]] = ..., traceparent: _Optional[str] = ..., body: _Optional[bytes] = ..., end: _Optional[bool] = ..., call: _Optional[_Union[CallHead, _Mapping]] = ..., caller_container: _Optional[str] = ..., caller_app: _Optional[str] = ...) -> None: ...

class CallHead(_message.Message):
    __slots__ = ("app", "function", "dev", "parameters", "generator", "spawn", "result_of", "wait_seconds")
    class ParametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    DEV_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    SPAWN_FIELD_NUMBER: _ClassVar[int]
    RESULT_OF_FIELD_NUMBER: _ClassVar[int]
    WAIT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    app: str
    function: str
    dev: bool
    parameters: _containers.ScalarMap[str, str]
    generator: bool
    spawn: bool
    result_of: str
    wait_seconds: float
    def __init__(self, app: _Optional[str] = ..., function: _Optional[str] = ..., dev: _Optional[bool] = ..., parameters: _Optional[_Mapping[str, str]] = ..., generator: _Optional[bool] = ..., spawn: _Optional[bool] = ..., result_of: _Optional[str] = ..., wait_seconds: _Optional[float] = ...) -> None: ...

class CallInput(_message.Message):
    __slots__ = ("args",)
    ARGS_FIELD_NUMBER: _ClassVar[int]
    args: bytes
    def __init__(self, args: _Optional[bytes] = ...) -> None: ...

class CallError(_message.Message):
    __slots__ = ("type", "message", "traceback", "exception")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    TRACEBACK_FIELD_NUMBER: _ClassVar[int]
    EXCEPTION_FIELD_NUMBER: _ClassVar[int]
    type: str
    message: str
    traceback: str
    exception: bytes
    def __init__(self, type: _Optional[str] = ..., message: _Optional[str] = ..., traceback: _Optional[str] = ..., exception: _Optional[bytes] = ...) -> None: ...

class CallOutput(_message.Message):
    __slots__ = ("value", "error", "end", "call_id")
    VALUE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    value: bytes
    error: CallError
    end: bool
    call_id: str
    def __init__(self, value: _Optional[bytes] = ..., error: _Optional[_Union[CallError, _Mapping]] = ..., end: _Optional[bool] = ..., call_id: _Optional[str] = ...) -> None: ...

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
