"""The same user function on plain uvicorn: the app Berth's runner builds, served without the platform.

Run as `python -m benchmarks.baseline FILE FUNCTION PORT` (what `start` does): imports the app file
with berth installed, takes the raw function under `@app.function()`, wraps it with the runner's own
`berth._runtime.loader.fastapi_app` (FastAPI route at "/", CORS middleware) and serves it with
uvicorn: one worker, httptools, uvloop, no access log.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

START_TIMEOUT = 60.0


def build_app(path: Path, function: str) -> Any:
    from berth._function import Function
    from berth._runtime.loader import fastapi_app, import_entry
    from berth.v1 import spec_pb2

    module = import_entry(str(path.parent.resolve()), path.name)
    obj = getattr(module, function)
    fn = obj.get_raw_f() if isinstance(obj, Function) else obj
    # The runner passes the function's WebSpec; the guide's endpoints are GET without docs.
    return fastapi_app(fn, spec_pb2.WebSpec(method="GET"))


def serve(path: Path, function: str, port: int) -> None:
    import uvicorn

    app = build_app(path, function)
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


@dataclass
class Baseline:
    process: subprocess.Popen[bytes]
    port: int
    function: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(path: Path, function: str, log: Path) -> Baseline:
    """Starts the baseline server in a subprocess; returns once it answers on "/"."""
    port = free_port()
    root = Path(__file__).resolve().parent.parent
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.baseline", str(path), function, str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=root,
        )
    baseline = Baseline(process=process, port=port, function=function)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"baseline for {function} exited with {process.returncode}:\n{log.read_text()}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/openapi.json", timeout=2):
                return baseline
        except urllib.error.HTTPError:
            return baseline  # any HTTP answer means it is serving
        except OSError:
            time.sleep(0.05)
    baseline.stop()
    raise RuntimeError(f"baseline for {function} did not start within {START_TIMEOUT:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("function")
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    serve(args.file, args.function, args.port)


if __name__ == "__main__":
    main()
