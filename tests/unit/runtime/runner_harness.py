"""A stand-in agent for runner tests: starts the real runner process and speaks frames to it."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from berth._spec import build_app_spec, find_app
from berth._wire.frames import encode, read_frame
from berth.v1 import bus_pb2, spec_pb2, stream_pb2
from services.agent.runtime.zygote import Zygote

ROOT = Path(__file__).resolve().parents[3]
APPS = Path(__file__).parent / "apps"
EXAMPLES = ROOT / "examples"
TIMEOUT = float(os.environ.get("BERTH_TEST_TIMEOUT", "30"))
_counter = itertools.count()


def function_spec(app_file: Path, name: str) -> spec_pb2.FunctionSpec:
    module_name = f"_runner_test_app_{next(_counter)}"
    spec = importlib.util.spec_from_file_location(module_name, app_file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    app_spec = build_app_spec(find_app(module), entry_module="app.py")
    return next(f for f in app_spec.functions if f.name == name)


class Output:
    """Lines a stream of the runner printed, with a way to wait for one."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.changed = asyncio.Event()

    async def pump(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode(errors="replace").rstrip("\n"))
            self.changed.set()

    async def wait_for(self, text: str) -> None:
        async def wait() -> None:
            while not any(text in line for line in self.lines):
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(wait(), TIMEOUT)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class FakeAgent:
    """Listens on a unix socket, starts `python -m berth._runtime` (or forks it from `zygote`), and
    exchanges frames with it."""

    def __init__(self, zygote: Zygote | None = None) -> None:
        self.zygote = zygote
        self.forked: tuple[int, asyncio.Future[int]] | None = None
        self.dir = Path(tempfile.mkdtemp(prefix="brt", dir="/tmp"))
        self.socket_path = str(self.dir / "agent.sock")
        self.code_dir = self.dir / "code"
        self.code_dir.mkdir()
        self.stdout = Output()
        self.stderr = Output()
        self.proc: asyncio.subprocess.Process | None = None
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._server: asyncio.AbstractServer | None = None
        self._pumps: list[asyncio.Task[None]] = []

    async def start(
        self,
        app_file: Path,
        function: str,
        *,
        parameters: Mapping[str, str] | None = None,
        python_args: tuple[str, ...] = (),
        env: Mapping[str, str] | None = None,
        source: str | None = None,
        prepare: Callable[[], Mapping[str, str]] | None = None,
    ) -> stream_pb2.Frame:
        """Starts the runner on `app_file` and returns its first control frame (ready or failed).
        `prepare` runs once the socket and boot file exist, as the agent's runtime would, and
        returns environment to add (an isolation plan)."""
        if source is not None:
            (self.code_dir / "app.py").write_text(source)
        else:
            shutil.copy(app_file, self.code_dir / "app.py")
        spec = function_spec(app_file, function)
        order = bus_pb2.BootOrder(function=spec, entry_module="app.py", parameters=dict(parameters or {}))
        boot = self.dir / "boot.pb"
        boot.write_bytes(order.SerializeToString())
        connected: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not connected.done():
                connected.set_result((reader, writer))

        self._server = await asyncio.start_unix_server(on_connect, self.socket_path)
        full_env = {
            **os.environ,
            "BERTH_BOOT": str(boot),
            "BERTH_SOCKET": self.socket_path,
            "BERTH_CODE_DIR": str(self.code_dir),
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        full_env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
        if prepare is not None:
            full_env.update(prepare())
        if self.zygote is not None:
            stdout, stderr = await self._fork(full_env)
        else:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *python_args,
                "-m",
                "berth._runtime",
                env=full_env,
                cwd=self.code_dir,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            assert self.proc.stdout and self.proc.stderr
            stdout, stderr = self.proc.stdout, self.proc.stderr
        self._pumps = [
            asyncio.create_task(self.stdout.pump(stdout)),
            asyncio.create_task(self.stderr.pump(stderr)),
        ]
        self.reader, self.writer = await asyncio.wait_for(connected, TIMEOUT)
        frame = await self.recv()
        assert frame is not None, f"runner closed the socket without a control frame:\n{self.stderr.text}"
        return frame

    async def _fork(self, env: Mapping[str, str]) -> tuple[asyncio.StreamReader, asyncio.StreamReader]:
        """Forks the runner from the zygote, with pipes for its output, as the process runtime does."""
        assert self.zygote is not None
        loop = asyncio.get_running_loop()
        readers = []
        ends = []
        for _ in range(2):
            read_end, write_end = os.pipe()
            reader = asyncio.StreamReader()
            await loop.connect_read_pipe(
                lambda r=reader: asyncio.StreamReaderProtocol(r), os.fdopen(read_end, "rb", 0)
            )
            readers.append(reader)
            ends.append(write_end)
        devnull = os.open(os.devnull, os.O_RDONLY)
        try:
            self.forked = await self.zygote.fork(
                env, str(self.code_dir), isolate_network=False, fds=(devnull, ends[0], ends[1])
            )
        finally:
            for fd in (devnull, *ends):
                os.close(fd)
        return readers[0], readers[1]

    def send(self, frame: stream_pb2.Frame) -> None:
        assert self.writer
        self.writer.write(encode(frame))

    async def recv(self) -> stream_pb2.Frame | None:
        assert self.reader
        return await asyncio.wait_for(read_frame(self.reader), TIMEOUT)

    def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes = b"",
        end: bool = True,
        query: bytes = b"",
        headers: Mapping[str, str] | None = None,
        client: str = "203.0.113.7",
        websocket: bool = False,
    ) -> int:
        """Sends a request head; returns its stream id."""
        stream = next(self._ids)
        headers = {"host": "app.localhost:8080", **(headers or {})}
        if body and end:
            headers.setdefault("content-length", str(len(body)))
        head = stream_pb2.RequestHead(
            method=method,
            scheme="http",
            path=path,
            raw_path=path.encode(),
            query_string=query,
            headers=[
                stream_pb2.Header(name=k.lower().encode(), value=v.encode()) for k, v in headers.items()
            ],
            client_host=client,
            client_port=50000,
            http_version="1.1",
            body=body,
            end=end,
            websocket=websocket,
        )
        self.send(stream_pb2.Frame(stream=stream, request=head))
        return stream

    async def response(self, stream: int) -> tuple[list[stream_pb2.Frame], stream_pb2.ResponseHead, bytes]:
        """Every frame of one response (until end or error), the head, and the whole body."""
        frames = []
        body = b""
        head = stream_pb2.ResponseHead()
        while True:
            frame = await self.recv()
            assert frame is not None, f"socket closed mid-response:\n{self.stderr.text}"
            assert frame.stream == stream
            frames.append(frame)
            kind = frame.WhichOneof("kind")
            if kind == "response":
                head = frame.response
                body += frame.response.body
                if frame.response.end:
                    break
            elif kind == "response_body":
                body += frame.response_body.data
                if frame.response_body.end:
                    break
            elif kind == "error":
                break
        return frames, head, body

    async def wait_exit(self) -> int:
        if self.forked is not None:
            code = await asyncio.wait_for(asyncio.shield(self.forked[1]), TIMEOUT)
        else:
            assert self.proc
            code = await asyncio.wait_for(self.proc.wait(), TIMEOUT)
        await asyncio.wait_for(asyncio.gather(*self._pumps), TIMEOUT)
        return code

    async def shutdown(self, grace: float = 5.0) -> int:
        self.send(stream_pb2.Frame(stream=0, shutdown=stream_pb2.RunnerShutdown(grace_seconds=grace)))
        return await self.wait_exit()

    async def close(self) -> None:
        if self.forked is not None and not self.forked[1].done():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.forked[0], signal.SIGKILL)
            await asyncio.wait_for(asyncio.shield(self.forked[1]), TIMEOUT)
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        for task in self._pumps:
            task.cancel()
        if self.writer:
            self.writer.close()
        if self._server:
            self._server.close()
        shutil.rmtree(self.dir, ignore_errors=True)
