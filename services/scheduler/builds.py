"""The scheduler's client for the builder's gRPC API."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc

from berth.v1 import build_pb2, build_pb2_grpc, spec_pb2
from services.common import auth


class BuilderClient:
    def __init__(self, address: str, token: str) -> None:
        self._address = address
        self._token = token
        self._channel: grpc.aio.Channel | None = None

    def _stub(self) -> build_pb2_grpc.BuilderStub:
        if self._channel is None:
            self._channel = grpc.aio.insecure_channel(self._address)
        return build_pb2_grpc.BuilderStub(self._channel)

    async def build(self, image: spec_pb2.ImageSpec, runtime: str) -> AsyncIterator[build_pb2.BuildEvent]:
        """Build events as the builder streams them; raises grpc.aio.AioRpcError on failure."""
        call = self._stub().Build(
            build_pb2.BuildRequest(image=image, runtime=runtime), metadata=auth.call_metadata(self._token)
        )
        async for event in call:
            yield event

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
