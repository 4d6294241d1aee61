from berth.v1 import build_pb2 as _build_pb2
from berth.v1 import control_pb2 as _control_pb2
from berth.v1 import spec_pb2 as _spec_pb2
from berth.v1 import stream_pb2 as _stream_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CallRecord(_message.Message):
    __slots__ = ("app", "function", "edge_id", "updated_at_ms", "done", "result", "spawned")
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    DONE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    SPAWNED_FIELD_NUMBER: _ClassVar[int]
    app: str
    function: str
    edge_id: str
    updated_at_ms: int
    done: bool
    result: _stream_pb2.ResponseHead
    spawned: bool
    def __init__(self, app: _Optional[str] = ..., function: _Optional[str] = ..., edge_id: _Optional[str] = ..., updated_at_ms: _Optional[int] = ..., done: _Optional[bool] = ..., result: _Optional[_Union[_stream_pb2.ResponseHead, _Mapping]] = ..., spawned: _Optional[bool] = ...) -> None: ...

class SecretRecord(_message.Message):
    __slots__ = ("nonce", "ciphertext", "keys", "created_at_ms")
    NONCE_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    nonce: bytes
    ciphertext: bytes
    keys: _containers.RepeatedScalarFieldContainer[str]
    created_at_ms: int
    def __init__(self, nonce: _Optional[bytes] = ..., ciphertext: _Optional[bytes] = ..., keys: _Optional[_Iterable[str]] = ..., created_at_ms: _Optional[int] = ...) -> None: ...

class SecretValues(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.ScalarMap[str, str]
    def __init__(self, values: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AppRecord(_message.Message):
    __slots__ = ("spec", "version", "bundle_id", "images", "ephemeral", "deployed_at_ms", "urls", "stopped")
    class ImagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _build_pb2.BuiltImage
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_build_pb2.BuiltImage, _Mapping]] = ...) -> None: ...
    SPEC_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    URLS_FIELD_NUMBER: _ClassVar[int]
    STOPPED_FIELD_NUMBER: _ClassVar[int]
    spec: _spec_pb2.AppSpec
    version: int
    bundle_id: str
    images: _containers.MessageMap[str, _build_pb2.BuiltImage]
    ephemeral: bool
    deployed_at_ms: int
    urls: _containers.RepeatedCompositeFieldContainer[_control_pb2.FunctionUrl]
    stopped: bool
    def __init__(self, spec: _Optional[_Union[_spec_pb2.AppSpec, _Mapping]] = ..., version: _Optional[int] = ..., bundle_id: _Optional[str] = ..., images: _Optional[_Mapping[str, _build_pb2.BuiltImage]] = ..., ephemeral: _Optional[bool] = ..., deployed_at_ms: _Optional[int] = ..., urls: _Optional[_Iterable[_Union[_control_pb2.FunctionUrl, _Mapping]]] = ..., stopped: _Optional[bool] = ...) -> None: ...

class Route(_message.Message):
    __slots__ = ("host_label", "app", "function", "version", "ephemeral", "parameters", "requires_proxy_auth", "timeout", "workspace")
    HOST_LABEL_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    REQUIRES_PROXY_AUTH_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    host_label: str
    app: str
    function: str
    version: int
    ephemeral: bool
    parameters: _containers.RepeatedCompositeFieldContainer[_spec_pb2.ClassParameter]
    requires_proxy_auth: bool
    timeout: float
    workspace: str
    def __init__(self, host_label: _Optional[str] = ..., app: _Optional[str] = ..., function: _Optional[str] = ..., version: _Optional[int] = ..., ephemeral: _Optional[bool] = ..., parameters: _Optional[_Iterable[_Union[_spec_pb2.ClassParameter, _Mapping]]] = ..., requires_proxy_auth: _Optional[bool] = ..., timeout: _Optional[float] = ..., workspace: _Optional[str] = ...) -> None: ...

class TokenRecord(_message.Message):
    __slots__ = ("name", "created_at_ms", "last_used_ms", "mac")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_MS_FIELD_NUMBER: _ClassVar[int]
    MAC_FIELD_NUMBER: _ClassVar[int]
    name: str
    created_at_ms: int
    last_used_ms: int
    mac: bytes
    def __init__(self, name: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., last_used_ms: _Optional[int] = ..., mac: _Optional[bytes] = ...) -> None: ...

class ProxyAuthTokenRecord(_message.Message):
    __slots__ = ("name", "workspace", "created_at_ms", "salt", "secret_hash")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WORKSPACE_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    SALT_FIELD_NUMBER: _ClassVar[int]
    SECRET_HASH_FIELD_NUMBER: _ClassVar[int]
    name: str
    workspace: str
    created_at_ms: int
    salt: bytes
    secret_hash: bytes
    def __init__(self, name: _Optional[str] = ..., workspace: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., salt: _Optional[bytes] = ..., secret_hash: _Optional[bytes] = ...) -> None: ...

class AppVersionRecord(_message.Message):
    __slots__ = ("record", "deployed_by", "rollback_of", "stopped_at_ms")
    RECORD_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_BY_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_FIELD_NUMBER: _ClassVar[int]
    STOPPED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    record: AppRecord
    deployed_by: str
    rollback_of: int
    stopped_at_ms: int
    def __init__(self, record: _Optional[_Union[AppRecord, _Mapping]] = ..., deployed_by: _Optional[str] = ..., rollback_of: _Optional[int] = ..., stopped_at_ms: _Optional[int] = ...) -> None: ...
