"""web_server functions and parametrized classes: pools per parameter set, several servers on one
port side by side, a server that never listens, the forwarded client address."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import CONFORMANCE, Platform, container_pids, wait_until

APPS = Path(__file__).parent / "apps"
PARAM_SERVER = CONFORMANCE / "apps" / "param_server.py"

pytestmark = pytest.mark.xdist_group("web-server")


def _live_servers(pids: list[int]) -> set[int]:
    """Container sessions (the runner's pid) in which a user's `http.server` is still running.
    Without a network namespace each, the second server on port 8000 would die on bind."""
    sessions = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            sid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[3])
        except (OSError, ValueError, IndexError):
            continue
        if b"http.server" in cmdline and sid in pids:
            sessions.add(sid)
    return sessions


@pytest.mark.skipif(not PARAM_SERVER.exists(), reason="../shared/conformance is absent")
def test_parameter_values_pick_container_pools(platform: Platform) -> None:
    url = platform.deploy(PARAM_SERVER)["Server.files"]
    root = platform.request("GET", url, "/?root=%2F")
    assert root.status_code == 200 and "etc/" in root.text and "param_server.py" not in root.text
    default = platform.request("GET", url, "/")
    assert default.status_code == 200 and "param_server.py" in default.text and "etc/" not in default.text
    assert len(container_pids(platform, "param-server")) == 2
    again = platform.request("GET", url, "/?root=%2F")
    assert again.status_code == 200 and "etc/" in again.text
    assert len(container_pids(platform, "param-server")) == 2  # the same value reused its pool
    pids = container_pids(platform, "param-server")
    wait_until(lambda: len(_live_servers(pids)) == 2, "both param_server pools' servers to be alive")


def test_two_web_servers_on_the_same_port_run_side_by_side(platform: Platform) -> None:
    url = platform.deploy(APPS / "file_server_pair.py")["my_file_server"]
    wait_until(lambda: len(container_pids(platform, "file-server-pair")) == 2, "min_containers=2 to boot")
    response = platform.request("GET", url)
    assert response.status_code == 200 and "Directory listing for /" in response.text
    pids = container_pids(platform, "file-server-pair")
    wait_until(lambda: len(_live_servers(pids)) == 2, "a live http.server in each of the 2 containers")
    assert "Address already in use" not in platform.logs("file-server-pair")


def test_server_that_never_listens_fails_clearly(platform: Platform) -> None:
    url = platform.deploy(APPS / "never_listens.py")["server"]
    response = platform.request("GET", url)
    assert response.status_code == 503  # a start failure: backed off and retried (backoff.py)
    rid = response.headers["x-berth-request-id"]
    assert response.text.startswith("server fails at start (request id"), response.text
    logs = platform.logs("never-listens")
    detail = next(line for line in logs.splitlines() if f"request {rid}:" in line)
    assert "did not start listening on port 8000" in detail and "0.0.0.0" in detail
    healthy = platform.request("GET", f"http://localhost:{platform.port}/", "/healthz")
    assert healthy.status_code == 200


def test_web_server_sees_the_client_address(platform: Platform) -> None:
    url = platform.deploy(APPS / "header_echo.py")["server"]
    response = platform.request("GET", url)
    assert response.status_code == 200
    assert response.text == "127.0.0.1"


def test_wrong_parameter_type_is_a_400(platform: Platform) -> None:
    from tests.e2e.conftest import EXAMPLES

    url = platform.deploy(EXAMPLES / "params.py")["Greeter.greet"]
    assert platform.request("GET", url, "/?greeting=Hi&excited=true").json() == "Hi, world!"
    bad = platform.request("GET", url, "/?excited=maybe")
    assert bad.status_code == 400 and "excited" in bad.text
