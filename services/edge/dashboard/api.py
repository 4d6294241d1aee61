"""The dashboard's client of the deploy API (the scheduler's gRPC Control service).

Every call carries the logged-in user's own token, so the dashboard can do exactly what that token
could do with the `berth` CLI and nothing more: the edge has no API rights of its own. One channel
for every session (gRPC multiplexes calls); plaintext, or TLS trusting `ca_file` as the CLI does
(sdk/berth/cli/client.py) when the API is served over TLS (services/common/tls.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import grpc

from berth.v1 import control_pb2, control_pb2_grpc

CALL_TIMEOUT = 10.0
# A rollback warms the version it serves again before moving traffic: a cold start or two.
ROLLBACK_TIMEOUT = 300.0


class ApiError(Exception):
    """A call failed; `status` is the HTTP status the dashboard answers with, the text says why."""

    def __init__(self, status: int, text: str, *, unauthenticated: bool = False) -> None:
        super().__init__(text)
        self.status = status
        self.unauthenticated = unauthenticated


_HTTP = {
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.FAILED_PRECONDITION: 409,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


def translate(exc: grpc.RpcError, address: str) -> ApiError:
    code = exc.code() if isinstance(exc, grpc.aio.AioRpcError) else grpc.StatusCode.UNKNOWN
    details = exc.details() if isinstance(exc, grpc.aio.AioRpcError) else str(exc)
    if code == grpc.StatusCode.UNAUTHENTICATED:
        return ApiError(401, "the API refused this token (wrong, or revoked)", unauthenticated=True)
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
        return ApiError(503, f"the Berth API at {address} is not reachable from the edge ({details})")
    return ApiError(_HTTP.get(code, 502), details or str(code))


class Api:
    def __init__(self, address: str, ca_file: str = "") -> None:
        self.address = address
        if ca_file:
            try:
                roots = Path(ca_file).read_bytes()
            except OSError as exc:
                raise SystemExit(f"cannot read the API's CA file {ca_file}: {exc.strerror}") from None
            self._channel = grpc.aio.secure_channel(
                address, grpc.ssl_channel_credentials(root_certificates=roots)
            )
        else:
            self._channel = grpc.aio.insecure_channel(address)
        self._stub = control_pb2_grpc.ControlStub(self._channel)

    async def close(self) -> None:
        await self._channel.close()

    @staticmethod
    def _meta(token: str) -> tuple[tuple[str, str], ...]:
        return (("authorization", f"Bearer {token}"),)

    async def _unary(self, method: Any, request: Any, token: str, timeout: float = CALL_TIMEOUT) -> Any:
        """One unary RPC with the user's token; an RpcError becomes the ApiError it means."""
        try:
            return await method(request, metadata=self._meta(token), timeout=timeout)
        except grpc.RpcError as exc:
            raise translate(exc, self.address) from None

    async def list_apps(self, token: str) -> control_pb2.ListAppsResponse:
        reply: control_pb2.ListAppsResponse = await self._unary(
            self._stub.ListApps, control_pb2.ListAppsRequest(), token
        )
        return reply

    async def containers(self, token: str, app: str = "") -> list[control_pb2.ContainerSummary]:
        request = control_pb2.ListContainersRequest(app=app)
        reply = await self._unary(self._stub.ListContainers, request, token)
        return list(reply.containers)

    async def history(self, token: str, app: str) -> list[control_pb2.AppVersion]:
        reply = await self._unary(self._stub.AppHistory, control_pb2.AppHistoryRequest(name=app), token)
        return list(reply.versions)

    async def rollback(self, token: str, app: str, version: int) -> control_pb2.RollbackAppResponse:
        request = control_pb2.RollbackAppRequest(name=app, version=version)
        reply: control_pb2.RollbackAppResponse = await self._unary(
            self._stub.RollbackApp, request, token, ROLLBACK_TIMEOUT
        )
        return reply

    async def stop_container(self, token: str, container_id: str) -> control_pb2.StopContainerResponse:
        request = control_pb2.StopContainerRequest(container_id=container_id)
        reply: control_pb2.StopContainerResponse = await self._unary(self._stub.StopContainer, request, token)
        return reply

    async def logs(
        self, token: str, app: str, *, ephemeral: bool, function: str, tail: int
    ) -> AsyncIterator[control_pb2.LogLine]:
        """The app's last `tail` lines, then new ones as they come, until the caller stops."""
        request = control_pb2.AppLogsRequest(
            name=app, follow=True, ephemeral=ephemeral, function=function, tail=tail
        )
        call = self._stub.AppLogs(request, metadata=self._meta(token))
        try:
            async for line in call:
                yield line
        except grpc.RpcError as exc:
            raise translate(exc, self.address) from None
        finally:
            call.cancel()
