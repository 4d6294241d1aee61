"""Zero-downtime redeploys on the shared platform: under a steady ~20 requests/s, an app is
redeployed twice (and rolled back once) without a single failed request, and traffic ends on the
newest version; a new version that cannot start fails its deploy with the reason and leaves the
old one serving (services/scheduler/rollout.py)."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.e2e.conftest import ANSWERING_APP as APP
from tests.e2e.conftest import Platform, wait_until
from tests.e2e.traffic import load

pytestmark = pytest.mark.xdist_group("redeploy")

# Imports fine on the CLI's side (the deploy reads the spec from it), fails in the container.
BROKEN = """
import berth

app = berth.App("{name}", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.asgi_app()
def f():
    raise RuntimeError("version {answer} refuses to start")
"""


def _write(tmp_path: Path, name: str, answer: str, source: str = APP) -> Path:
    path = tmp_path / "versioned.py"
    path.write_text(source.format(name=name, answer=answer))
    return path


def test_two_redeploys_under_load_fail_no_request(platform: Platform, tmp_path: Path) -> None:
    name = f"redeploy-{uuid.uuid4().hex[:6]}"
    url = platform.deploy(_write(tmp_path, name, "v1"))["f"]
    assert platform.request("GET", url).json() == "v1"
    with load(url) as traffic:
        wait_until(lambda: traffic.count('"v1"') >= 20, "the load to run on v1", timeout=30)
        windows = []
        for answer in ("v2", "v3"):
            started = time.monotonic()
            platform.deploy(_write(tmp_path, name, answer))
            windows.append((started, time.monotonic()))
            wait_until(
                lambda a=answer: traffic.count(f'"{a}"') >= 20,  # type: ignore[misc]
                f"{answer} to take the traffic",
                timeout=60,
            )
    failed = traffic.failures()
    assert not failed, f"{len(failed)} of {len(traffic.results)} requests failed: {failed[:10]}"
    answers = traffic.answers()
    assert answers[-20:] == ['"v3"'] * 20, answers[-40:]
    # Under load: requests were sent while each deploy ran, not only around them.
    for begin, end in windows:
        assert any(begin <= sent <= end for sent, _, _ in traffic.results), (begin, end)
    # Traffic moved forward only: once a version answered, older ones answered only requests
    # sent before it (in flight at the switch), never a burst after.
    first_v3 = answers.index('"v3"')
    assert '"v1"' not in answers[first_v3:], answers


def test_a_version_that_cannot_start_fails_its_deploy_and_the_old_one_keeps_serving(
    platform: Platform, tmp_path: Path
) -> None:
    name = f"redeploy-bad-{uuid.uuid4().hex[:6]}"
    url = platform.deploy(_write(tmp_path, name, "v1"))["f"]
    assert platform.request("GET", url).json() == "v1"  # a warm container: the rollout warms first
    with load(url) as traffic:
        wait_until(lambda: traffic.count('"v1"') >= 10, "the load to run on v1", timeout=30)
        broken = platform.berth("deploy", str(_write(tmp_path, name, "v2", BROKEN)))
        sent = len(traffic.answers())
        wait_until(lambda: len(traffic.answers()) >= sent + 10, "requests after the failure", timeout=30)
    assert broken.returncode != 0, broken.stdout
    assert "version 2 did not start" in broken.stderr, broken.stderr
    assert "version v2 refuses to start" in broken.stderr, broken.stderr
    assert "version 1 keeps serving" in broken.stderr, broken.stderr
    failed = traffic.failures()
    assert not failed, f"{len(failed)} of {len(traffic.results)} requests failed: {failed[:10]}"
    assert set(traffic.answers()) == {'"v1"'}
    listed = platform.berth("app", "list", timeout=30)
    assert listed.returncode == 0 and name in listed.stdout, listed.stderr
    history = platform.berth("app", "history", name, timeout=30)
    assert history.returncode == 0 and "serving" in history.stdout, history.stderr


def _containers(platform: Platform, name: str) -> list[dict[str, object]]:
    listed = platform.berth("container", "list", name, "--json", timeout=30)
    assert listed.returncode == 0, listed.stderr
    rows: list[dict[str, object]] = json.loads(listed.stdout)
    return rows


def test_the_new_version_is_warm_before_traffic_moves_to_it(platform: Platform, tmp_path: Path) -> None:
    """No request touches the app between a deploy (or rollback) and the listing, so a ready
    container of the new version can only have been booted by the rollout."""
    name = f"redeploy-warm-{uuid.uuid4().hex[:6]}"
    url = platform.deploy(_write(tmp_path, name, "v1"))["f"]
    # Two at once: the old version holds two warm containers, so the new one is warmed to two.
    with ThreadPoolExecutor(2) as pool:
        slow = [pool.submit(platform.request, "GET", url, "/", params={"sleep": 1}) for _ in range(2)]
        assert all(f.result().status_code == 200 for f in slow)
    assert len(_containers(platform, name)) == 2
    platform.deploy(_write(tmp_path, name, "v2"))
    ready = [r for r in _containers(platform, name) if r["version"] == 2 and r["state"] == "ready"]
    assert len(ready) == 2, _containers(platform, name)
    assert platform.request("GET", url).json() == "v2"
    rolled = platform.berth("app", "rollback", name, timeout=120)
    assert rolled.returncode == 0, rolled.stderr
    ready = [r for r in _containers(platform, name) if r["version"] == 3 and r["state"] == "ready"]
    assert len(ready) >= 1, _containers(platform, name)
    assert platform.request("GET", url).json() == "v1"
