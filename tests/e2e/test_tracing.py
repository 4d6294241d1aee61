"""One request, one trace: edge -> scheduler -> agent -> user code, collected by a real OTLP/HTTP
receiver that the services export to."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from tests.e2e.conftest import EXAMPLES, Platform, start_platform, stop_process, wait_until

pytestmark = pytest.mark.xdist_group("tracing")

WANTED = {"edge.request", "scheduler.assign", "agent.boot", "runner.handle"}


class Receiver:
    """Collects (trace id, service, span name) from OTLP/HTTP protobuf exports."""

    def __init__(self) -> None:
        self.spans: list[tuple[str, str, str]] = []
        # (trace id, span id, parent span id, name), to check who is whose child.
        self.links: list[tuple[str, str, str, str]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                with receiver.lock:
                    for resource_spans in request.resource_spans:
                        service = next(
                            (
                                a.value.string_value
                                for a in resource_spans.resource.attributes
                                if a.key == "service.name"
                            ),
                            "",
                        )
                        for scope_spans in resource_spans.scope_spans:
                            for span in scope_spans.spans:
                                receiver.spans.append((span.trace_id.hex(), service, span.name))
                                receiver.links.append(
                                    (
                                        span.trace_id.hex(),
                                        span.span_id.hex(),
                                        span.parent_span_id.hex(),
                                        span.name,
                                    )
                                )
                reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def traces(self) -> dict[str, set[tuple[str, str]]]:
        with self.lock:
            out: dict[str, set[tuple[str, str]]] = {}
            for trace_id, service, name in self.spans:
                out.setdefault(trace_id, set()).add((service, name))
            return out


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Platform, Receiver]]:
    receiver = Receiver()
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    platform = start_platform(tmp_path_factory.mktemp("traced-home"), env)
    try:
        yield platform, receiver
    finally:
        stop_process(platform.process, signal.SIGINT)
        receiver.server.shutdown()


def test_one_request_is_one_trace_across_all_services(traced: tuple[Platform, Receiver]) -> None:
    platform, receiver = traced
    url = platform.deploy(Path(EXAMPLES / "hello.py"))["f"]
    response = platform.request("GET", url)
    assert response.status_code == 200
    deadline = time.monotonic() + 30
    complete: dict[str, set[tuple[str, str]]] = {}
    while time.monotonic() < deadline and not complete:
        complete = {t: s for t, s in receiver.traces().items() if WANTED <= {name for _, name in s}}
        time.sleep(0.1)
    assert complete, f"no trace holds all of {sorted(WANTED)}; got {receiver.traces()}"
    (spans,) = complete.values()
    services = {service for service, _ in spans}
    assert {"berth-edge", "berth-scheduler", "berth-agent", "berth-runner"} <= services, services


FRAMEWORK_APP = """
import berth

app = berth.App("traced-framework")


@app.function()
@berth.asgi_app()
def web():
    from opentelemetry import propagate, trace

    tracer = trace.get_tracer("framework")

    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        # What OpenTelemetry's ASGI/FastAPI middleware does: parent on the request's headers.
        with tracer.start_as_current_span("framework.request", context=propagate.extract(headers)):
            with tracer.start_as_current_span("framework.handler"):
                pass
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    return asgi
"""


def test_framework_spans_are_children_of_runner_handle(
    traced: tuple[Platform, Receiver], tmp_path: Path
) -> None:
    platform, receiver = traced
    app_file = tmp_path / "framework.py"
    app_file.write_text(FRAMEWORK_APP)
    url = platform.deploy(app_file)["web"]
    # A client's own trace context must not cut the framework's spans off the platform's trace.
    forged = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    assert platform.request("GET", url, headers={"traceparent": forged}).status_code == 200

    def spans() -> dict[str, tuple[str, str, str]]:
        with receiver.lock:
            return {
                name: (t, s, p)
                for t, s, p, name in receiver.links
                if name.startswith(("framework.", "runner."))
            }

    wait_until(lambda: {"framework.request", "framework.handler"} <= spans().keys(), "the framework's spans")
    found = spans()
    handle = [
        (t, s)
        for t, s, _, name in receiver.links
        if name == "runner.handle" and t == found["framework.request"][0]
    ]
    assert handle, f"framework.request is not in a trace with runner.handle: {found}"
    assert found["framework.request"][2] == handle[0][1]  # its parent is runner.handle
    assert found["framework.handler"][2] == found["framework.request"][1]
    assert found["framework.request"][0] != forged.split("-")[1]
