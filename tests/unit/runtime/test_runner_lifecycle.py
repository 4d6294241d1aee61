"""Start-up and shutdown of the real runner: lifespan, failures, classes, web_server."""

import json
import os
import socket
from pathlib import Path

import google.protobuf
import pytest
from runner_harness import APPS, EXAMPLES, FakeAgent

SDK = Path(__file__).resolve().parents[3] / "sdk"


def _isolated_env(tmp: Path) -> dict[str, str]:
    """PYTHONPATH with only berth and protobuf, for `python -S`: no site-packages, so no FastAPI."""
    (tmp / "google").symlink_to(Path(google.protobuf.__file__).parent.parent)
    return {"PYTHONPATH": f"{SDK}{os.pathsep}{tmp}"}


async def test_lifespan_prints_starting_and_shutting_down(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "lifespan_app.py", "fastapi_app_with_lifespan")).WhichOneof(
        "kind"
    ) == "ready"
    assert "Starting" in agent.stdout.lines or await agent.stdout.wait_for("Starting") is None
    _, head, body = await agent.response(agent.request("GET", "/"))
    assert (head.status, json.loads(body)) == (200, "hello")
    assert "Shutting down" not in agent.stdout.text
    assert await agent.shutdown() == 0
    assert "Shutting down" in agent.stdout.lines


async def test_socket_eof_shuts_down(agent: FakeAgent) -> None:
    assert (await agent.start(APPS / "lifespan_app.py", "fastapi_app_with_lifespan")).WhichOneof(
        "kind"
    ) == "ready"
    assert agent.writer is not None
    agent.writer.close()
    assert await agent.wait_exit() == 0
    assert "Shutting down" in agent.stdout.lines


async def test_syntax_error_reports_file_and_line(agent: FakeAgent) -> None:
    source = (APPS / "syntax_error.py.txt").read_text()
    first = await agent.start(EXAMPLES / "hello.py", "f", source=source)
    assert first.WhichOneof("kind") == "failed", first
    assert "SyntaxError" in first.failed.message
    assert "app.py:5" in first.failed.message
    assert await agent.wait_exit() == 1
    assert "SyntaxError" in agent.stderr.text


async def test_missing_fastapi_says_how_to_fix(agent: FakeAgent, tmp_path: Path) -> None:
    first = await agent.start(EXAMPLES / "hello.py", "f", python_args=("-S",), env=_isolated_env(tmp_path))
    assert first.WhichOneof("kind") == "failed", first
    assert 'add .pip_install("fastapi[standard]") to its Image' in first.failed.message
    assert await agent.wait_exit() == 1


async def test_plain_asgi_app_needs_only_stdlib_protobuf_and_berth(agent: FakeAgent, tmp_path: Path) -> None:
    first = await agent.start(APPS / "raw_asgi.py", "web", python_args=("-S",), env=_isolated_env(tmp_path))
    assert first.WhichOneof("kind") == "ready", agent.stderr.text
    _, head, body = await agent.response(agent.request("POST", "/", body=b"1"))
    assert (head.status, body) == (200, b"raw:1")
    assert await agent.shutdown() == 0


async def test_parametrized_class_with_enter(agent: FakeAgent) -> None:
    first = await agent.start(
        EXAMPLES / "params.py", "Greeter.greet", parameters={"greeting": "Hi", "excited": "true"}
    )
    assert first.WhichOneof("kind") == "ready", agent.stderr.text
    _, head, body = await agent.response(agent.request("GET", "/", query=b"name=Ada"))
    assert (head.status, json.loads(body)) == (200, "Hi, Ada!")
    assert await agent.shutdown() == 0


async def test_bad_parameter_fails_start(agent: FakeAgent) -> None:
    first = await agent.start(EXAMPLES / "params.py", "Greeter.greet", parameters={"excited": "maybe"})
    assert first.WhichOneof("kind") == "failed"
    assert "excited" in first.failed.message
    assert await agent.wait_exit() == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


WEB_SERVER_APP = """
import berth as modal

app = modal.App("file-server")


@app.function()
@modal.concurrent(max_inputs=10)
@modal.web_server(PORT, startup_timeout=STARTUP)
def files():
    import subprocess
    import sys

    subprocess.Popen([sys.executable, "-m", "http.server", "-b", "0.0.0.0", "-d", ".", "PORT"])
"""


async def test_web_server_proxies_to_the_port(agent: FakeAgent, tmp_path: Path) -> None:
    port = _free_port()
    source = WEB_SERVER_APP.replace("PORT", str(port)).replace("STARTUP", "10")
    app_file = tmp_path / "ws_app.py"
    app_file.write_text(source)
    try:
        first = await agent.start(app_file, "files", source=source)
        assert first.WhichOneof("kind") == "ready", agent.stderr.text
        (agent.code_dir / "hello.txt").write_text("hi there")
        _, head, body = await agent.response(agent.request("GET", "/hello.txt"))
        assert (head.status, body) == (200, b"hi there")
        _, head, _ = await agent.response(agent.request("GET", "/missing"))
        assert head.status == 404
    finally:
        _kill_listener(port)  # the user's server holds our stdout pipe open until it ends
    assert await agent.shutdown() == 0


def _kill_listener(port: int) -> None:
    """The runner leaves the user's server to the agent (process group); here we end it by its port."""
    import subprocess

    out = subprocess.run(["fuser", "-k", f"{port}/tcp"], capture_output=True, check=False)
    del out


async def test_web_server_not_listening_fails_with_advice(agent: FakeAgent, tmp_path: Path) -> None:
    port = _free_port()
    source = (
        WEB_SERVER_APP.replace("PORT", str(port))
        .replace("STARTUP", "0.3")
        .replace("subprocess.Popen", "print")
    )
    app_file = tmp_path / "ws_app.py"
    app_file.write_text(source)
    first = await agent.start(app_file, "files", source=source)
    assert first.WhichOneof("kind") == "failed"
    assert f"did not start listening on port {port} within 0.3 s" in first.failed.message
    assert await agent.wait_exit() == 1


pytestmark = pytest.mark.timeout(120)
