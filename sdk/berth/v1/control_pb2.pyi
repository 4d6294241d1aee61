from berth.v1 import spec_pb2 as _spec_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LookupFunctionRequest(_message.Message):
    __slots__ = ("app", "function", "dev")
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    DEV_FIELD_NUMBER: _ClassVar[int]
    app: str
    function: str
    dev: bool
    def __init__(self, app: _Optional[str] = ..., function: _Optional[str] = ..., dev: _Optional[bool] = ...) -> None: ...

class LookupFunctionResponse(_message.Message):
    __slots__ = ("app", "function", "dev", "version", "parameters", "web_url", "generator")
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    DEV_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    WEB_URL_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_FIELD_NUMBER: _ClassVar[int]
    app: str
    function: str
    dev: bool
    version: int
    parameters: _containers.RepeatedCompositeFieldContainer[_spec_pb2.ClassParameter]
    web_url: str
    generator: bool
    def __init__(self, app: _Optional[str] = ..., function: _Optional[str] = ..., dev: _Optional[bool] = ..., version: _Optional[int] = ..., parameters: _Optional[_Iterable[_Union[_spec_pb2.ClassParameter, _Mapping]]] = ..., web_url: _Optional[str] = ..., generator: _Optional[bool] = ...) -> None: ...

class CreateProxyAuthTokenRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateProxyAuthTokenResponse(_message.Message):
    __slots__ = ("key", "secret", "name")
    KEY_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    key: str
    secret: str
    name: str
    def __init__(self, key: _Optional[str] = ..., secret: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class ListProxyAuthTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProxyAuthTokenSummary(_message.Message):
    __slots__ = ("key", "name", "created_at_ms")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    key: str
    name: str
    created_at_ms: int
    def __init__(self, key: _Optional[str] = ..., name: _Optional[str] = ..., created_at_ms: _Optional[int] = ...) -> None: ...

class ListProxyAuthTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[ProxyAuthTokenSummary]
    def __init__(self, tokens: _Optional[_Iterable[_Union[ProxyAuthTokenSummary, _Mapping]]] = ...) -> None: ...

class RevokeProxyAuthTokenRequest(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: str
    def __init__(self, key: _Optional[str] = ...) -> None: ...

class RevokeProxyAuthTokenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateTokenRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateTokenResponse(_message.Message):
    __slots__ = ("token",)
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    token: str
    def __init__(self, token: _Optional[str] = ...) -> None: ...

class ListTokensRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TokenSummary(_message.Message):
    __slots__ = ("name", "created_at_ms", "last_used_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    created_at_ms: int
    last_used_ms: int
    def __init__(self, name: _Optional[str] = ..., created_at_ms: _Optional[int] = ..., last_used_ms: _Optional[int] = ...) -> None: ...

class ListTokensResponse(_message.Message):
    __slots__ = ("tokens",)
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    tokens: _containers.RepeatedCompositeFieldContainer[TokenSummary]
    def __init__(self, tokens: _Optional[_Iterable[_Union[TokenSummary, _Mapping]]] = ...) -> None: ...

class RevokeTokenRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokeTokenResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CreateSecretRequest(_message.Message):
    __slots__ = ("name", "values", "force")
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    FORCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    values: _containers.ScalarMap[str, str]
    force: bool
    def __init__(self, name: _Optional[str] = ..., values: _Optional[_Mapping[str, str]] = ..., force: _Optional[bool] = ...) -> None: ...

class CreateSecretResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListSecretsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SecretSummary(_message.Message):
    __slots__ = ("name", "keys", "created_at_ms")
    NAME_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    name: str
    keys: _containers.RepeatedScalarFieldContainer[str]
    created_at_ms: int
    def __init__(self, name: _Optional[str] = ..., keys: _Optional[_Iterable[str]] = ..., created_at_ms: _Optional[int] = ...) -> None: ...

class ListSecretsResponse(_message.Message):
    __slots__ = ("secrets",)
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    secrets: _containers.RepeatedCompositeFieldContainer[SecretSummary]
    def __init__(self, secrets: _Optional[_Iterable[_Union[SecretSummary, _Mapping]]] = ...) -> None: ...

class DeleteSecretRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteSecretResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeployRequest(_message.Message):
    __slots__ = ("app", "bundle", "ephemeral")
    APP_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    app: _spec_pb2.AppSpec
    bundle: bytes
    ephemeral: bool
    def __init__(self, app: _Optional[_Union[_spec_pb2.AppSpec, _Mapping]] = ..., bundle: _Optional[bytes] = ..., ephemeral: _Optional[bool] = ...) -> None: ...

class DeployEvent(_message.Message):
    __slots__ = ("log_line", "image", "result", "detail_line")
    LOG_LINE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    DETAIL_LINE_FIELD_NUMBER: _ClassVar[int]
    log_line: str
    image: ImageReady
    result: DeployResult
    detail_line: str
    def __init__(self, log_line: _Optional[str] = ..., image: _Optional[_Union[ImageReady, _Mapping]] = ..., result: _Optional[_Union[DeployResult, _Mapping]] = ..., detail_line: _Optional[str] = ...) -> None: ...

class ImageReady(_message.Message):
    __slots__ = ("image_id", "cache_hit", "installed")
    IMAGE_ID_FIELD_NUMBER: _ClassVar[int]
    CACHE_HIT_FIELD_NUMBER: _ClassVar[int]
    INSTALLED_FIELD_NUMBER: _ClassVar[int]
    image_id: str
    cache_hit: bool
    installed: int
    def __init__(self, image_id: _Optional[str] = ..., cache_hit: _Optional[bool] = ..., installed: _Optional[int] = ...) -> None: ...

class FunctionUrl(_message.Message):
    __slots__ = ("function", "url", "custom_domains")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_DOMAINS_FIELD_NUMBER: _ClassVar[int]
    function: str
    url: str
    custom_domains: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, function: _Optional[str] = ..., url: _Optional[str] = ..., custom_domains: _Optional[_Iterable[str]] = ...) -> None: ...

class DeployResult(_message.Message):
    __slots__ = ("app", "version", "urls")
    APP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    URLS_FIELD_NUMBER: _ClassVar[int]
    app: str
    version: int
    urls: _containers.RepeatedCompositeFieldContainer[FunctionUrl]
    def __init__(self, app: _Optional[str] = ..., version: _Optional[int] = ..., urls: _Optional[_Iterable[_Union[FunctionUrl, _Mapping]]] = ...) -> None: ...

class ListAppsRequest(_message.Message):
    __slots__ = ("include_stopped",)
    INCLUDE_STOPPED_FIELD_NUMBER: _ClassVar[int]
    include_stopped: bool
    def __init__(self, include_stopped: _Optional[bool] = ...) -> None: ...

class AppSummary(_message.Message):
    __slots__ = ("name", "version", "state", "ephemeral", "urls", "containers", "deployed_at_ms", "failing")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    URLS_FIELD_NUMBER: _ClassVar[int]
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    FAILING_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    state: str
    ephemeral: bool
    urls: _containers.RepeatedCompositeFieldContainer[FunctionUrl]
    containers: int
    deployed_at_ms: int
    failing: _containers.RepeatedCompositeFieldContainer[FailingFunction]
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ..., state: _Optional[str] = ..., ephemeral: _Optional[bool] = ..., urls: _Optional[_Iterable[_Union[FunctionUrl, _Mapping]]] = ..., containers: _Optional[int] = ..., deployed_at_ms: _Optional[int] = ..., failing: _Optional[_Iterable[_Union[FailingFunction, _Mapping]]] = ...) -> None: ...

class FailingFunction(_message.Message):
    __slots__ = ("function", "last_error", "failures", "retry_in_ms")
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    RETRY_IN_MS_FIELD_NUMBER: _ClassVar[int]
    function: str
    last_error: str
    failures: int
    retry_in_ms: int
    def __init__(self, function: _Optional[str] = ..., last_error: _Optional[str] = ..., failures: _Optional[int] = ..., retry_in_ms: _Optional[int] = ...) -> None: ...

class ListAppsResponse(_message.Message):
    __slots__ = ("apps", "unisolated_agents")
    APPS_FIELD_NUMBER: _ClassVar[int]
    UNISOLATED_AGENTS_FIELD_NUMBER: _ClassVar[int]
    apps: _containers.RepeatedCompositeFieldContainer[AppSummary]
    unisolated_agents: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, apps: _Optional[_Iterable[_Union[AppSummary, _Mapping]]] = ..., unisolated_agents: _Optional[_Iterable[str]] = ...) -> None: ...

class StopAppRequest(_message.Message):
    __slots__ = ("name", "ephemeral")
    NAME_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    name: str
    ephemeral: bool
    def __init__(self, name: _Optional[str] = ..., ephemeral: _Optional[bool] = ...) -> None: ...

class StopAppResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class AppLogsRequest(_message.Message):
    __slots__ = ("name", "follow", "ephemeral", "function", "since_ms", "tail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    SINCE_MS_FIELD_NUMBER: _ClassVar[int]
    TAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    follow: bool
    ephemeral: bool
    function: str
    since_ms: int
    tail: int
    def __init__(self, name: _Optional[str] = ..., follow: _Optional[bool] = ..., ephemeral: _Optional[bool] = ..., function: _Optional[str] = ..., since_ms: _Optional[int] = ..., tail: _Optional[int] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("time_ms", "app", "function", "container_id", "stream", "text", "params", "request_id", "access")
    TIME_MS_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ACCESS_FIELD_NUMBER: _ClassVar[int]
    time_ms: int
    app: str
    function: str
    container_id: str
    stream: str
    text: str
    params: str
    request_id: str
    access: AccessEntry
    def __init__(self, time_ms: _Optional[int] = ..., app: _Optional[str] = ..., function: _Optional[str] = ..., container_id: _Optional[str] = ..., stream: _Optional[str] = ..., text: _Optional[str] = ..., params: _Optional[str] = ..., request_id: _Optional[str] = ..., access: _Optional[_Union[AccessEntry, _Mapping]] = ...) -> None: ...

class LogBatch(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[LogLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[LogLine, _Mapping]]] = ...) -> None: ...

class AccessEntry(_message.Message):
    __slots__ = ("method", "path", "status", "duration_us")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    method: str
    path: str
    status: int
    duration_us: int
    def __init__(self, method: _Optional[str] = ..., path: _Optional[str] = ..., status: _Optional[int] = ..., duration_us: _Optional[int] = ...) -> None: ...

class AppHistoryRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class AppVersion(_message.Message):
    __slots__ = ("version", "deployed_at_ms", "state", "deployed_by", "images", "bundle_id", "rollback_of")
    class ImagesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_AT_MS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    DEPLOYED_BY_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    BUNDLE_ID_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_FIELD_NUMBER: _ClassVar[int]
    version: int
    deployed_at_ms: int
    state: str
    deployed_by: str
    images: _containers.ScalarMap[str, str]
    bundle_id: str
    rollback_of: int
    def __init__(self, version: _Optional[int] = ..., deployed_at_ms: _Optional[int] = ..., state: _Optional[str] = ..., deployed_by: _Optional[str] = ..., images: _Optional[_Mapping[str, str]] = ..., bundle_id: _Optional[str] = ..., rollback_of: _Optional[int] = ...) -> None: ...

class AppHistoryResponse(_message.Message):
    __slots__ = ("versions",)
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[AppVersion]
    def __init__(self, versions: _Optional[_Iterable[_Union[AppVersion, _Mapping]]] = ...) -> None: ...

class RollbackAppRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: int
    def __init__(self, name: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class RollbackAppResponse(_message.Message):
    __slots__ = ("app", "version", "rollback_of", "urls")
    APP_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ROLLBACK_OF_FIELD_NUMBER: _ClassVar[int]
    URLS_FIELD_NUMBER: _ClassVar[int]
    app: str
    version: int
    rollback_of: int
    urls: _containers.RepeatedCompositeFieldContainer[FunctionUrl]
    def __init__(self, app: _Optional[str] = ..., version: _Optional[int] = ..., rollback_of: _Optional[int] = ..., urls: _Optional[_Iterable[_Union[FunctionUrl, _Mapping]]] = ...) -> None: ...

class ListContainersRequest(_message.Message):
    __slots__ = ("app",)
    APP_FIELD_NUMBER: _ClassVar[int]
    app: str
    def __init__(self, app: _Optional[str] = ...) -> None: ...

class ContainerSummary(_message.Message):
    __slots__ = ("container_id", "app", "ephemeral", "function", "version", "parameters", "state", "inflight", "max_inputs", "age_ms", "agent_id")
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    APP_FIELD_NUMBER: _ClassVar[int]
    EPHEMERAL_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    INFLIGHT_FIELD_NUMBER: _ClassVar[int]
    MAX_INPUTS_FIELD_NUMBER: _ClassVar[int]
    AGE_MS_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    app: str
    ephemeral: bool
    function: str
    version: int
    parameters: str
    state: str
    inflight: int
    max_inputs: int
    age_ms: int
    agent_id: str
    def __init__(self, container_id: _Optional[str] = ..., app: _Optional[str] = ..., ephemeral: _Optional[bool] = ..., function: _Optional[str] = ..., version: _Optional[int] = ..., parameters: _Optional[str] = ..., state: _Optional[str] = ..., inflight: _Optional[int] = ..., max_inputs: _Optional[int] = ..., age_ms: _Optional[int] = ..., agent_id: _Optional[str] = ...) -> None: ...

class ListContainersResponse(_message.Message):
    __slots__ = ("containers",)
    CONTAINERS_FIELD_NUMBER: _ClassVar[int]
    containers: _containers.RepeatedCompositeFieldContainer[ContainerSummary]
    def __init__(self, containers: _Optional[_Iterable[_Union[ContainerSummary, _Mapping]]] = ...) -> None: ...

class StopContainerRequest(_message.Message):
    __slots__ = ("container_id",)
    CONTAINER_ID_FIELD_NUMBER: _ClassVar[int]
    container_id: str
    def __init__(self, container_id: _Optional[str] = ...) -> None: ...

class StopContainerResponse(_message.Message):
    __slots__ = ("app", "function")
    APP_FIELD_NUMBER: _ClassVar[int]
    FUNCTION_FIELD_NUMBER: _ClassVar[int]
    app: str
    function: str
    def __init__(self, app: _Optional[str] = ..., function: _Optional[str] = ...) -> None: ...
