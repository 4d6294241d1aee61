"""Which of the agent's OpenTelemetry settings reach a container: what the runner needs to export
spans that join the request's trace, and none of the operator's tracing credentials."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.agent.runtime import docker_params
from services.agent.runtime.base import LaunchSpec, launch_spec, tracing_env
from tests.unit.agent.test_admission import docker_image, order, process_image

RUNNER_NEEDS = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector.internal:4318",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector.internal:4318/v1/traces",
    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
    "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
    "OTEL_TRACES_SAMPLER_ARG": "0.25",
    "OTEL_PROPAGATORS": "tracecontext,baggage",
    "OTEL_BSP_SCHEDULE_DELAY": "50",
}
OPERATOR_ONLY = {
    "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer operator-secret",
    "OTEL_EXPORTER_OTLP_TRACES_HEADERS": "x-api-key=operator-secret",
    "OTEL_EXPORTER_OTLP_CERTIFICATE": "/etc/berth/otel/ca.pem",
    "OTEL_EXPORTER_OTLP_CLIENT_KEY": "/etc/berth/otel/client.key",
    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": "/etc/berth/otel/client.pem",
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY": "/etc/berth/otel/traces.key",
    "OTEL_EXPORTER_OTLP_METRICS_HEADERS": "authorization=Bearer operator-secret",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": "http://logs.internal:4318",
    "OTEL_RESOURCE_ATTRIBUTES": "cloud.account.id=123456789,host.name=prod-7",
    "OTEL_SERVICE_NAME": "berth-agent-prod",
    "OTEL_SOMETHING_NEW": "x",  # a future setting stays out until someone decides it is safe
}


def _spec(tmp_path: Path, image_env: dict[str, str] | None = None, docker: bool = False) -> LaunchSpec:
    image = docker_image(env=image_env or {}) if docker else process_image(tmp_path, env=image_env or {})
    return launch_spec(
        order(image),
        code_dir=tmp_path,
        state_dir=tmp_path / "state",
        boot_file=tmp_path / "state" / "boot.pb",
        socket_path=tmp_path / "c.sock",
    )


@pytest.fixture
def agent_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**RUNNER_NEEDS, **OPERATOR_ONLY}.items():
        monkeypatch.setenv(key, value)


@pytest.mark.usefixtures("agent_env")
@pytest.mark.parametrize("docker", [False, True], ids=["process", "docker"])
def test_containers_get_what_the_runner_exports_with_and_no_credentials(tmp_path: Path, docker: bool) -> None:
    spec = _spec(tmp_path, docker=docker)
    env = docker_params.container_env(spec) if docker else spec.env
    for key, value in RUNNER_NEEDS.items():
        assert env.get(key) == value, key
    leaked = sorted(key for key in OPERATOR_ONLY if key in env)
    assert not leaked, f"the agent's {leaked} reached the container"
    assert not [v for v in env.values() if "operator-secret" in v or "/etc/berth/otel" in v]


@pytest.mark.usefixtures("agent_env")
def test_the_images_own_tracing_settings_win(tmp_path: Path) -> None:
    spec = _spec(tmp_path, {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://mine:4318", "OTEL_SERVICE_NAME": "mine"})
    assert spec.env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://mine:4318"
    assert spec.env["OTEL_SERVICE_NAME"] == "mine"  # the user's own, not the agent's


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://operator:hunter2@collector.internal:4318",
        "https://token@collector.internal",
        "https://collector.internal:4318/v1/traces?api-key=hunter2",
        "http://[::1:4318",  # unparseable: withheld rather than guessed at
    ],
)
def test_an_endpoint_with_credentials_in_its_url_is_withheld(endpoint: str) -> None:
    env = tracing_env(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        }
    )
    assert env == {"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}


def test_without_tracing_configured_containers_get_no_otel_settings() -> None:
    assert tracing_env({"PATH": "/bin", "BERTH_HOME": "/h"}) == {}
