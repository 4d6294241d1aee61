"""The gRPC servicer for `Builder.Build`: streams build output, then the built image."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import grpc
from opentelemetry import trace

from berth.v1 import build_pb2, build_pb2_grpc
from services.builder import uv_output
from services.builder.commands import LineSink
from services.builder.docker_build import DockerBuilder
from services.builder.errors import BuildError, BuildTimedOut, InvalidSpec, RuntimeNotSupported
from services.builder.process_build import ProcessBuilder
from services.builder.steps import Builder
from services.common import auth, logs

log = logging.getLogger("berth.builder")

MAX_MESSAGE_CHARS = 4000
PROCESS = "process"
DOCKER = "docker"


@dataclass(frozen=True)
class BuildParams:
    timeout: float  # seconds a whole Build may take, lock waits included


class BuilderServicer(build_pb2_grpc.BuilderServicer):
    def __init__(
        self,
        *,
        process: ProcessBuilder,
        params: BuildParams,
        tracer: trace.Tracer,
        docker: DockerBuilder | None = None,
    ) -> None:
        self._process = process
        self._docker = docker
        self._params = params
        self._tracer = tracer

    async def Build(  # noqa: N802 - gRPC method name
        self, request: build_pb2.BuildRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[build_pb2.BuildEvent]:
        with self._tracer.start_as_current_span(
            "builder.build",
            context=auth.trace_context(context),
            attributes={"berth.runtime": request.runtime},
        ) as span:
            events: asyncio.Queue[build_pb2.BuildEvent | None] = asyncio.Queue()
            task = asyncio.create_task(self._build(request, lambda line: events.put_nowait(_log(line))))
            task.add_done_callback(lambda _: events.put_nowait(None))
            try:
                while (event := await events.get()) is not None:
                    yield event
                built = task.result()
            except BuildError as exc:
                span.set_status(trace.Status(trace.StatusCode.ERROR, exc.message.splitlines()[0]))
                logs.event(log, "build failed", code=exc.code.name, error=exc.message.splitlines()[0])
                await context.abort(exc.code, clip(exc.message))
            except Exception as exc:
                log.exception("build crashed")
                span.record_exception(exc)
                await context.abort(grpc.StatusCode.INTERNAL, f"image build crashed: {exc!r}")
            finally:
                task.cancel()  # a caller that went away stops its build (and uv with it)
            span.set_attribute("berth.image_id", built.image_id)
            span.set_attribute("berth.cache_hit", built.cache_hit)
            logs.event(
                log, "built", image_id=built.image_id, cache_hit=built.cache_hit, installed=built.installed
            )
            yield build_pb2.BuildEvent(image=built)

    async def _build(self, request: build_pb2.BuildRequest, on_line: LineSink) -> build_pb2.BuiltImage:
        runtime = request.runtime or PROCESS
        if runtime == DOCKER and self._docker is None:
            raise RuntimeNotSupported("this builder was started without docker builds; use runtime 'process'")
        if runtime not in (PROCESS, DOCKER):
            raise InvalidSpec(f"unknown runtime {request.runtime!r}: expected 'process' or 'docker'")
        stage = "waiting for another build of this image"

        def watch(line: str) -> None:
            nonlocal stage
            if line.startswith(_STAGE_PREFIXES):
                stage = line
            on_line(line)

        try:
            async with asyncio.timeout(self._params.timeout) as deadline:
                builder: Builder = self._docker if runtime == DOCKER and self._docker else self._process
                return await builder.build(request.image, on_line=watch)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise BuildTimedOut(
                f"image build timed out after {self._params.timeout:g}s (BERTH_BUILD_TIMEOUT) at: {stage}\n"
                "nothing was cached; the next build starts over"
            ) from None


_STAGE_PREFIXES = ("step ", "creating virtualenv", "runtime layer", "base image", "docker build")


def clip(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Keeps a status message within what gRPC trailers carry: the first line and the end of the rest."""
    if len(message) <= limit:
        return message
    first, _, rest = message.partition("\n")
    return f"{first}\n...\n{rest[-(limit - len(first) - 5) :]}"


def _log(line: str) -> build_pb2.BuildEvent:
    if uv_output.is_detail(line):
        return build_pb2.BuildEvent(detail_line=line)
    return build_pb2.BuildEvent(log_line=line)
