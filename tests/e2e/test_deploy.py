"""Deploying: URLs, failures that leave the running version serving, the image cache, stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth._spec import build_app_spec
from berth.cli.client import Api
from berth.cli.config import load
from berth.cli.loading import bundle, load_app_file
from berth.v1 import control_pb2
from tests.e2e.conftest import Platform, container_pids, wait_until

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.xdist_group("deploy")

VERSION_1 = """
import berth

app = berth.App("{name}", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint()
def f():
    return "{answer}"
"""


def _write(tmp_path: Path, name: str, answer: str, stem: str = "keep") -> Path:
    path = tmp_path / f"{stem}.py"
    path.write_text(VERSION_1.format(name=name, answer=answer))
    return path


def test_deploy_prints_url_and_unknown_host_is_404(platform: Platform, tmp_path: Path) -> None:
    urls = platform.deploy(_write(tmp_path, "url-check", "v1"))
    assert urls == {"f": f"http://local--url-check-f.localhost:{platform.port}/"}
    assert platform.request("GET", urls["f"]).json() == "v1"
    missing = platform.request("GET", f"http://local--nothing-here.localhost:{platform.port}/")
    assert missing.status_code == 404
    assert "no app is deployed" in missing.text


def test_healthz_on_bare_host(platform: Platform) -> None:
    response = platform.request("GET", f"http://localhost:{platform.port}/", "/healthz")
    assert response.status_code == 200


def test_syntax_error_keeps_previous_version(platform: Platform, tmp_path: Path) -> None:
    path = _write(tmp_path, "syntax-keep", "still v1")
    url = platform.deploy(path)["f"]
    good = path.read_text()
    path.write_text(good + "def broken(:\n    pass\n")
    line = good.count("\n") + 1
    result = platform.berth("deploy", str(path))
    assert result.returncode != 0
    assert "syntax error" in result.stderr and f"{path.name}:{line}" in result.stderr, result.stderr
    assert platform.request("GET", url).json() == "still v1"


def test_unknown_package_fails_build_and_keeps_previous_version(platform: Platform, tmp_path: Path) -> None:
    path = _write(tmp_path, "pkg-keep", "still v1")
    url = platform.deploy(path)["f"]
    path.write_text(
        path.read_text().replace('"fastapi[standard]"', '"fastapi[standard]", "berth-no-such-package-zzz"')
    )
    result = platform.berth("deploy", str(path))
    assert result.returncode != 0
    assert "image build failed" in result.stderr and "berth-no-such-package-zzz" in result.stderr, (
        result.stderr
    )
    assert platform.request("GET", url).json() == "still v1"


def test_missing_or_wrong_token_is_refused(platform: Platform, tmp_path: Path) -> None:
    path = _write(tmp_path, "token-keep", "still v1")
    url = platform.deploy(path)["f"]
    path.write_text(VERSION_1.format(name="token-keep", answer="v2"))
    server = load(platform.home).server
    for token in ("", "bt_not-a-real-token"):
        env = {**platform.env, "BERTH_HOME": str(tmp_path / "elsewhere"), "BERTH_SERVER": server}
        if token:
            env["BERTH_TOKEN"] = token
        result = platform.berth("deploy", str(path), env=env)
        assert result.returncode != 0
        assert "token" in result.stderr.lower() and "berth up" in result.stderr, result.stderr
    assert platform.request("GET", url).json() == "still v1"


def test_second_deploy_of_unchanged_image_is_a_cache_hit(platform: Platform, tmp_path: Path) -> None:
    path = _write(tmp_path, "cache-check", "v1")
    platform.deploy(path)
    loaded = load_app_file(path)
    spec = build_app_spec(loaded.app, entry_module=path.name)
    api = Api(load(platform.home))
    request = control_pb2.DeployRequest(app=spec, bundle=bundle(loaded.sources))
    images = [e.image for e in api.control.Deploy(request, metadata=api.metadata) if e.HasField("image")]
    assert len(images) == 1
    assert images[0].cache_hit and images[0].installed == 0


def test_stop_makes_urls_404_and_ends_containers(platform: Platform) -> None:
    url = platform.deploy(APPS / "short_lived.py")["pid"]
    url = platform.deploy(APPS / "crashy.py")["web"]
    assert platform.request("GET", url, "/ok").status_code == 200
    assert container_pids(platform, "crashy")
    result = platform.berth("app", "stop", "crashy")
    assert result.returncode == 0, result.stderr
    assert platform.request("GET", url, "/ok").status_code == 404
    wait_until(lambda: not container_pids(platform, "crashy"), "crashy's containers to end")
    again = platform.berth("app", "stop", "crashy")
    assert again.returncode != 0 and "not deployed" in again.stderr


def test_scale_to_zero_and_back(platform: Platform) -> None:
    url = platform.deploy(APPS / "short_lived.py")["pid"]
    first = platform.request("GET", url).json()
    wait_until(lambda: not container_pids(platform, "short-lived"), "scale to zero after scaledown_window=2")
    second = platform.request("GET", url)
    assert second.status_code == 200
    assert second.json() != first  # a new container answered


def test_container_crash_mid_request_is_a_clear_502(platform: Platform) -> None:
    url = platform.deploy(APPS / "crashy.py")["web"]
    assert platform.request("GET", url, "/ok").status_code == 200
    crashed = platform.request("GET", url, "/crash")
    assert crashed.status_code == 502
    assert "exited with code 3" in crashed.text
    assert platform.request("GET", url, "/ok").status_code == 200  # a fresh container takes over


def test_fastapi_endpoint_without_fastapi_in_the_image_says_so(platform: Platform) -> None:
    url = platform.deploy(APPS / "no_fastapi.py")["f"]
    response = platform.request("GET", url)
    assert response.status_code == 503  # a start failure: backed off and retried (backoff.py)
    # A deployed app's 5xx is one line and a request id; the detail is in its logs under that id.
    rid = response.headers["x-berth-request-id"]
    assert response.text == f"f fails at start (request id {rid})\n", response.text
    logs = platform.logs("no-fastapi")
    detail = next(line for line in logs.splitlines() if f"request {rid}:" in line)
    assert "fastapi_endpoint needs FastAPI in the function's image" in detail, logs[-2000:]
    assert 'pip_install("fastapi[standard]")' in detail
