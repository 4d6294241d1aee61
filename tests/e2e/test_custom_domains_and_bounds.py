"""Issue #8 on a real platform: custom domains route (and belong to one app at a time), a 2 MiB log
line is cut without stopping the log pump, and a bundle bomb sent straight to the deploy API (as a
token holder could) is refused with nothing stored."""

from __future__ import annotations

import asyncio
import hashlib
import io
import zipfile
from pathlib import Path

import grpc
import httpx
import pytest
from nats.js import api as js_api
from nats.js.errors import ObjectNotFoundError

from berth._spec import build_app_spec
from berth.cli.client import Api
from berth.cli.config import load
from berth.cli.loading import load_app_file
from berth.v1 import control_pb2
from services.common import bus, credentials, provision, subjects
from services.launcher.driver import stop_process
from tests.e2e.conftest import Platform, start_nats, wait_until

APPS = Path(__file__).parent / "apps"
DOMAIN = "api.berth-test.example"

pytestmark = pytest.mark.xdist_group("deploy")


def _get(platform: Platform, host: str, path: str = "/") -> httpx.Response:
    with platform.client() as client:
        return client.get(f"http://127.0.0.1:{platform.port}{path}", headers={"host": host})


def test_custom_domain_routes_and_belongs_to_one_app(platform: Platform) -> None:
    platform.deploy(APPS / "domain_owner.py")
    answer = _get(platform, f"{DOMAIN}:{platform.port}")
    assert answer.status_code == 200 and answer.json() == "domain-owner", answer.text
    assert _get(platform, DOMAIN.upper() + ".").json() == "domain-owner"  # case, no port, final dot
    listing = platform.berth("app", "list")
    assert f"(custom domains: {DOMAIN})" in listing.stdout, listing.stdout

    refused = platform.berth("deploy", str(APPS / "domain_thief.py"))
    assert refused.returncode != 0
    assert f"custom domain {DOMAIN} is already used by app 'domain-owner'" in refused.stderr, refused.stderr
    assert _get(platform, DOMAIN).json() == "domain-owner"

    stopped = platform.berth("app", "stop", "domain-owner")
    assert stopped.returncode == 0, stopped.stderr
    # Freed: no route, so the edge answers for itself; then the other app may claim it.
    assert _get(platform, DOMAIN).status_code == 404
    platform.deploy(APPS / "domain_thief.py")
    assert _get(platform, DOMAIN).json() == "domain-thief"
    assert platform.berth("app", "stop", "domain-thief").returncode == 0


def test_a_domain_under_the_platform_domain_is_refused(platform: Platform, tmp_path: Path) -> None:
    path = tmp_path / "underneath.py"
    path.write_text(
        (APPS / "domain_owner.py")
        .read_text()
        .replace("API.berth-test.example", "mine.localhost")
        .replace('"domain-owner"', '"underneath"')
    )
    result = platform.berth("deploy", str(path))
    assert result.returncode != 0
    assert "'mine.localhost' is under the platform's own domain 'localhost'" in result.stderr, result.stderr


def test_a_2_mib_log_line_is_truncated_and_later_lines_still_arrive(platform: Platform) -> None:
    url = platform.deploy(APPS / "long_line.py")["shout"]
    for marker in ("one", "two"):  # the second call proves the pump outlived the first long line
        assert platform.request("GET", url, params={"marker": marker}).status_code == 200
        wait_until(
            lambda m=marker: f"after the long line {m}" in platform.logs("long-line"),
            f"the line printed after the long one ({marker})",
            timeout=30,
        )
    lines = platform.logs("long-line").splitlines()
    long_lines = [line for line in lines if "LLLL" in line]
    assert len(long_lines) == 2
    for line in long_lines:
        text = line.split(" stdout: ", 1)[1]
        assert text == "L" * (1 << 20) + "… [truncated 1048576 bytes]", line[-80:]
    assert platform.berth("app", "stop", "long-line").returncode == 0


def _bomb() -> bytes:
    """A zip of 200 MiB of zeros (about 200 KiB sent): past the 128 MiB default cap."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("bomb_app.py", "import berth\n")
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            block = bytes(1 << 20)
            for _ in range(200):
                member.write(block)
    return buffer.getvalue()


async def _bundle_stored(platform: Platform, bundle_id: str) -> bool:
    nc = await bus.connect(platform.nats_url, "test-admin", seed_file=str(platform.seed_file("admin")))
    try:
        store = await bus.object_store(nc.jetstream(), subjects.OBJ_BUNDLES)
        try:
            await store.get_info(bundle_id)
        except ObjectNotFoundError:
            return False
        return True
    finally:
        await nc.close()


def test_a_bundle_bomb_sent_to_the_api_is_refused_and_nothing_is_stored(platform: Platform) -> None:
    loaded = load_app_file(APPS / "long_line.py")
    spec = build_app_spec(loaded.app, entry_module="long_line.py")
    spec.name = "bundle-bomb"
    bomb = _bomb()
    assert len(bomb) < 1 << 20  # fits a gRPC message easily: only the platform's cap stops it
    api = Api(load(platform.home))
    request = control_pb2.DeployRequest(app=spec, bundle=bomb)
    with pytest.raises(grpc.RpcError) as refused:
        list(api.control.Deploy(request, metadata=api.metadata))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert refused.value.details().startswith("bundle refused: "), refused.value.details()
    assert "more than 134217728 bytes uncompressed (128 MiB)" in refused.value.details()
    assert not asyncio.run(_bundle_stored(platform, hashlib.sha256(bomb).hexdigest()))
    listing = api.control.ListApps(control_pb2.ListAppsRequest(), metadata=api.metadata)
    assert "bundle-bomb" not in {app.name for app in listing.apps}


async def _log_stream_cap(url: str, seed: Path, *, old_stream: bool = False) -> int:
    nc = await bus.connect(url, "test-admin", seed_file=str(seed))
    try:
        js = nc.jetstream()
        if old_stream:  # as made before the per-app cap existed
            config = js_api.StreamConfig(name=subjects.LOG_STREAM, subjects=[subjects.LOG_SUBJECTS])
            await js.add_stream(config)
            await provision.ensure_state(js)
        info = await js.stream_info(subjects.LOG_STREAM)
        return int(info.config.max_msgs_per_subject)
    finally:
        await nc.close()


def test_log_retention_is_capped_per_app(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each app logs on a subject of its own (berth.logs.<app key>), so the cap is per app.
    assert asyncio.run(_log_stream_cap(platform.nats_url, platform.seed_file("admin"))) == 10_000
    # A stream from before the cap takes the configured one at the next start.
    url, server = start_nats(tmp_path)
    try:
        monkeypatch.setenv("BERTH_LOG_MAX_LINES_PER_APP", "50")
        seed = credentials.seed_file(tmp_path, credentials.ADMIN)
        cap = asyncio.run(_log_stream_cap(url, seed, old_stream=True))
    finally:
        stop_process(server)
    assert cap == 50
