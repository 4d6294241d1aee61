"""The guide's examples, driven from ../shared/conformance/cases.json: deploy each app file
unchanged, call the URL `berth deploy` printed, compare with the expected answer."""

from __future__ import annotations

import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from berth.cli.client import Api
from berth.cli.config import load
from berth.v1 import control_pb2
from tests.e2e.conftest import CONFORMANCE, Platform, conformance_cases, send

CASES = conformance_cases()
# Apps whose capabilities belong to a later issue; reported as skipped, never as passed.
PENDING: dict[str, str] = {}
LOG_TIMEOUT = 30.0

pytestmark = pytest.mark.xdist_group("conformance")

if not CASES:
    pytest.skip(
        "../shared/conformance is absent; tests/e2e/test_examples.py covers our own examples",
        allow_module_level=True,
    )


def _setups() -> dict[str, list[str]]:
    setups: dict[str, list[str]] = {}
    for case in CASES:
        setups.setdefault(str(case["app"]), []).extend(case.get("setup", []))  # type: ignore[arg-type]
    return setups


SETUPS = _setups()


def deployed(platform: Platform, app: str) -> dict[str, str]:
    if app not in platform.deployed:
        for command in SETUPS.get(app, []):
            words = shlex.split(command)
            assert words[0] == "berth", command
            result = platform.berth(*words[1:])
            assert result.returncode == 0, f"setup {command!r} failed:\n{result.stderr}"
        platform.deploy(CONFORMANCE / "apps" / app)
    return platform.deployed[app]


def _id(case: dict[str, object]) -> str:
    return f"{case['app']}-{case['method']}-{case['path']}-{case['status']}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_case(platform: Platform, case: dict[str, object]) -> None:
    app = str(case["app"])
    if app in PENDING:
        pytest.skip(PENDING[app])
    url = deployed(platform, app)[str(case["function"])]
    kwargs: dict[str, object] = {}
    if "json" in case:
        kwargs["json"] = case["json"]
    if "headers" in case:
        kwargs["headers"] = case["headers"]
    response = platform.request(str(case["method"]), url, str(case["path"]), **kwargs)
    assert response.status_code == case["status"], response.text
    if "body_json" in case:
        assert response.json() == case["body_json"]
    if "body_contains" in case:
        assert str(case["body_contains"]) in response.text
    if "content_type_contains" in case:
        assert str(case["content_type_contains"]) in response.headers.get("content-type", "")
    if "logs_contain" in case:
        wanted = str(case["logs_contain"])
        name = Path(app).stem
        deadline = time.monotonic() + LOG_TIMEOUT
        logs = ""
        while wanted not in logs and time.monotonic() < deadline:
            logs = platform.logs(_app_name(platform, url))
        assert wanted in logs, logs or f"no logs for {name}"


def _app_name(platform: Platform, url: str) -> str:
    api = Api(load(platform.home))
    apps = api.control.ListApps(control_pb2.ListAppsRequest(), metadata=api.metadata).apps
    return next(a.name for a in apps if any(u.url == url for u in a.urls))


def _containers(platform: Platform, name: str) -> int:
    api = Api(load(platform.home))
    apps = api.control.ListApps(control_pb2.ListAppsRequest(), metadata=api.metadata).apps
    return next(a.containers for a in apps if a.name == name)


@pytest.mark.parametrize("app", ["asgi_echo.py", "wsgi_echo.py"])
def test_fifty_simultaneous_requests_share_one_container(platform: Platform, app: str) -> None:
    """The guide's max_inputs=100 apps: 50 requests at once all succeed on one container."""
    urls = deployed(platform, app)
    url = next(iter(urls.values()))
    name = _app_name(platform, url)
    # Warm the container first so the burst measures sharing, not which request boots it.
    assert platform.request("POST", url, "/echo", json={"warm": True}).status_code == 200
    with platform.client() as client, ThreadPoolExecutor(max_workers=50) as pool:
        responses = list(pool.map(lambda i: send(client, "POST", url, "/echo", json={"i": i}), range(50)))
    assert [r.status_code for r in responses] == [200] * 50
    assert sorted(r.json()["i"] for r in responses) == list(range(50))
    assert _containers(platform, name) == 1
