"""The gRPC client for the deploy API; every failure becomes one `berth.Error` subclass."""

from __future__ import annotations

import grpc

from berth._errors import AuthError, Error, InvalidError, NotFoundError
from berth.cli.config import ClientConfig, config_path, load
from berth.v1 import control_pb2_grpc


class UnavailableError(Error):
    """The platform could not be reached."""


_BY_STATUS: dict[grpc.StatusCode, type[Error]] = {
    grpc.StatusCode.UNAUTHENTICATED: AuthError,
    grpc.StatusCode.PERMISSION_DENIED: AuthError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.INVALID_ARGUMENT: InvalidError,
    grpc.StatusCode.FAILED_PRECONDITION: InvalidError,
    grpc.StatusCode.ALREADY_EXISTS: InvalidError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
}


def translate(exc: grpc.RpcError) -> Error:
    code = exc.code() if hasattr(exc, "code") else grpc.StatusCode.UNKNOWN
    details = exc.details() if hasattr(exc, "details") else str(exc)
    error_type = _BY_STATUS.get(code, Error)
    if error_type is AuthError:
        details = (
            f"{details}. The API token is missing or wrong: run `berth up` on this machine, or set "
            "BERTH_TOKEN to a token of this platform."
        )
    elif error_type is UnavailableError:
        details = f"the Berth API is not reachable ({details}); is `berth up` running?"
    return error_type(details)


def _channel(config: ClientConfig) -> grpc.Channel:
    if not config.ca_file:
        return grpc.insecure_channel(config.server)
    try:
        with open(config.ca_file, "rb") as ca:
            roots = ca.read()
    except OSError as exc:
        raise Error(f"cannot read the API's CA file {config.ca_file}: {exc.strerror}") from None
    return grpc.secure_channel(config.server, grpc.ssl_channel_credentials(root_certificates=roots))


def no_api_message() -> str:
    """Why there is no API to call, and the ways to name one: the likeliest cause is a platform
    started with `--home DIR` while this shell looks in the default home."""
    where = config_path()
    return (
        f"no Berth API configured ({where} does not name one). If the platform runs with "
        "`berth up --home DIR` (or BERTH_HOME=DIR), set BERTH_HOME=DIR in this shell too; else start "
        "it with `berth up`, or point at one elsewhere with `berth login --server HOST:PORT --token T` "
        "(or BERTH_SERVER and BERTH_TOKEN)"
    )


class Api:
    """A connection to the deploy API with the caller's token attached to every call."""

    def __init__(self, config: ClientConfig | None = None) -> None:
        self.config = config or load()
        if not self.config.server:
            raise UnavailableError(no_api_message())
        self._channel = _channel(self.config)
        self.control = control_pb2_grpc.ControlStub(self._channel)

    @property
    def metadata(self) -> list[tuple[str, str]]:
        from berth import _tracing

        metadata = [("authorization", f"Bearer {self.config.token}")] if self.config.token else []
        metadata.extend(_tracing.inject({}).items())
        return metadata

    def close(self) -> None:
        self._channel.close()
