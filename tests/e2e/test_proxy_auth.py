"""Proxy auth end to end: `berth proxy-auth create|list|revoke`, and a function deployed with
`requires_proxy_auth=True` answering only requests with a valid Berth-* or Modal-* pair, refused
at the edge before any container boots, never showing the headers to user code."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.e2e.conftest import Platform, container_pids, direct

APPS = Path(__file__).parent / "apps"
APP = "proxy-protected"
PROXY_HEADERS = {"berth-key", "berth-secret", "modal-key", "modal-secret"}
REVOKE_DEADLINE = 10.0

pytestmark = pytest.mark.xdist_group("cli")


def create(platform: Platform, name: str) -> tuple[str, str]:
    created = platform.berth("proxy-auth", "create", name, "--json", timeout=30)
    assert created.returncode == 0, created.stderr
    pair = json.loads(created.stdout)
    assert (
        set(pair) == {"key", "secret"} and pair["key"].startswith("wk-") and pair["secret"].startswith("ws-")
    )
    assert pair["secret"] not in created.stderr
    return pair["key"], pair["secret"]


def seen_headers(response_json: list[list[str]]) -> set[str]:
    return {name.lower() for name, _ in response_json}


def test_proxy_auth_guards_the_function(platform: Platform) -> None:
    url = platform.deploy(APPS / "proxy_protected.py")["web"]

    # No credentials: refused at the edge, and nothing booted for it.
    refused = platform.request("GET", url)
    assert refused.status_code == 401, refused.text
    assert "proxy auth" in refused.text and refused.text.count("\n") == 1, refused.text
    assert container_pids(platform, APP) == [], "a refused request must not boot a container"

    key, secret = create(platform, "e2e")

    berth = platform.request("GET", url, headers={"Berth-Key": key, "Berth-Secret": secret, "X-Keep": "1"})
    assert berth.status_code == 200, berth.text
    assert "x-keep" in seen_headers(berth.json())
    assert not PROXY_HEADERS & seen_headers(berth.json()), berth.json()

    modal = platform.request("GET", url, headers={"Modal-Key": key, "Modal-Secret": secret})
    assert modal.status_code == 200, modal.text
    assert not PROXY_HEADERS & seen_headers(modal.json()), modal.json()

    for headers in (
        {"Berth-Key": key, "Berth-Secret": secret + "x"},
        {"Modal-Key": key, "Modal-Secret": "ws-wrong"},
        {"Berth-Key": "wk-" + "A" * 22, "Berth-Secret": secret},
        {"Berth-Key": key},
    ):
        wrong = platform.request("GET", url, headers=headers)
        assert wrong.status_code == 401, (headers, wrong.text)

    listed = platform.berth("proxy-auth", "list", "--json", timeout=30)
    assert listed.returncode == 0, listed.stderr
    rows = {row["key"]: row for row in json.loads(listed.stdout)}
    assert set(rows[key]) == {"key", "name", "created"} and rows[key]["name"] == "e2e"
    table = platform.berth("proxy-auth", "list", timeout=30)
    assert table.returncode == 0 and key in table.stdout, table.stderr
    for result in (listed, table):
        assert secret not in result.stdout + result.stderr

    revoked = platform.berth("proxy-auth", "revoke", key, timeout=30)
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + REVOKE_DEADLINE
    while True:
        after = platform.request("GET", url, headers={"Berth-Key": key, "Berth-Secret": secret})
        if after.status_code == 401:
            break
        assert time.monotonic() < deadline, f"a revoked token still worked after {REVOKE_DEADLINE:.0f}s"
        time.sleep(0.1)  # polling the observable outcome, under a deadline
    assert key not in platform.berth("proxy-auth", "list", timeout=30).stdout

    again = platform.berth("proxy-auth", "revoke", key, timeout=30)
    assert again.returncode != 0 and "berth proxy-auth list" in again.stderr, again.stderr


def _ws(url: str, headers: dict[str, str]) -> object:
    target, host = direct(url, "/")
    port = int(host.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    return connect(f"ws://{host}/", sock=sock, open_timeout=120, additional_headers=headers)


def test_websockets_are_guarded_too(platform: Platform, tmp_path: Path) -> None:
    # Its own app name, so its containers never count against the other test's "none booted".
    source = (APPS / "proxy_protected.py").read_text().replace(f'"{APP}"', f'"{APP}-ws"')
    (tmp_path / "proxy_protected_ws.py").write_text(source)
    url = platform.deploy(tmp_path / "proxy_protected_ws.py")["web"]
    with pytest.raises(InvalidStatus) as refused:
        with _ws(url, {}):  # type: ignore[attr-defined]
            pass
    assert refused.value.response.status_code == 401

    key, secret = create(platform, "")
    try:
        with _ws(url, {"Modal-Key": key, "Modal-Secret": secret}) as ws:  # type: ignore[attr-defined]
            seen = {name.lower() for name, _ in json.loads(ws.recv(timeout=60))}
        assert not PROXY_HEADERS & seen, seen
    finally:
        platform.berth("proxy-auth", "revoke", key, timeout=30)
