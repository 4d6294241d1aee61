"""App history and rollback, and the containers' view, through the CLI on the shared platform:
versions listed with state and who deployed them, a rollback serving earlier code as a new version
without a build, clear errors for what does not exist, `berth container list|stop`."""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ANSWERING_APP as APP
from tests.e2e.conftest import Platform, send, wait_until

pytestmark = pytest.mark.xdist_group("history")



def _write(tmp_path: Path, name: str, answer: str) -> Path:
    path = tmp_path / "versioned.py"
    path.write_text(APP.format(name=name, answer=answer))
    return path


def _json(platform: Platform, *args: str) -> Any:
    result = platform.berth(*args, "--json", timeout=30)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _answers(platform: Platform, url: str, expected: str) -> bool:
    response = platform.request("GET", url)
    return response.status_code == 200 and response.json() == expected


def test_history_lists_versions_and_rollback_serves_the_previous_code(
    platform: Platform, tmp_path: Path
) -> None:
    name = f"hist-{uuid.uuid4().hex[:6]}"
    url = platform.deploy(_write(tmp_path, name, "one"))["f"]
    assert platform.request("GET", url).json() == "one"

    # Version 2 comes from another token, so "who" tells the two apart.
    token_name = f"hist-ci-{uuid.uuid4().hex[:6]}"
    created = platform.berth("token", "create", token_name, timeout=30)
    assert created.returncode == 0, created.stderr
    env = {**platform.env, "BERTH_TOKEN": created.stdout.strip()}
    second = platform.berth("deploy", str(_write(tmp_path, name, "two")), env=env)
    assert second.returncode == 0, second.stderr
    wait_until(lambda: _answers(platform, url, "two"), "version 2 to serve", timeout=30)

    versions = _json(platform, "app", "history", name)
    assert [(v["version"], v["state"]) for v in versions] == [(2, "serving"), (1, "replaced")]
    assert versions[0]["by"] == token_name and versions[1]["by"].startswith("bootstrap"), versions
    assert all(v["deployed"] and v["images"].keys() == {"f"} and v["bundle"] for v in versions)
    assert versions[0]["bundle"] != versions[1]["bundle"]
    table = platform.berth("app", "history", name, timeout=30)
    assert table.returncode == 0 and "serving" in table.stdout and token_name in table.stdout

    rolled = platform.berth("app", "rollback", name, timeout=60)
    assert rolled.returncode == 0, rolled.stderr
    assert f"rolled back {name} to version 1, now version 3" in rolled.stderr
    # A deploy streams image events ("image …: cached/built"); a rollback has no build to report.
    assert "image" not in rolled.stderr and rolled.stdout.strip() == f"f: {url}"
    wait_until(lambda: _answers(platform, url, "one"), "the rollback to serve version 1's code", timeout=30)

    after = {v["version"]: v for v in _json(platform, "app", "history", name)}
    assert sorted(after) == [1, 2, 3]
    assert after[3]["state"] == "serving" and after[3]["rollback_of"] == 1
    assert after[2]["state"] == "replaced" and after[2]["rollback_of"] is None
    # The same stored sources and built image as version 1, not a new build of them.
    assert after[3]["bundle"] == after[1]["bundle"] and after[3]["images"] == after[1]["images"]
    assert "rollback to v1" in platform.berth("app", "history", name, timeout=30).stdout

    explicit = platform.berth("app", "rollback", name, "v2", timeout=60)
    assert explicit.returncode == 0 and "now version 4" in explicit.stderr, explicit.stderr
    wait_until(lambda: _answers(platform, url, "two"), "the rollback to version 2", timeout=30)


def test_rollback_and_history_of_what_does_not_exist_are_clear_errors(
    platform: Platform, tmp_path: Path
) -> None:
    name = f"hist-missing-{uuid.uuid4().hex[:6]}"
    platform.deploy(_write(tmp_path, name, "only"))

    missing = platform.berth("app", "rollback", name, "7", timeout=30)
    assert missing.returncode != 0
    assert f"app {name!r} has no version 7 (kept: 1;" in missing.stderr, missing.stderr
    nothing_earlier = platform.berth("app", "rollback", name, timeout=30)
    assert nothing_earlier.returncode != 0 and "no earlier version" in nothing_earlier.stderr
    serving = platform.berth("app", "rollback", name, "1", timeout=30)
    assert serving.returncode != 0 and "already serving" in serving.stderr, serving.stderr
    garbage = platform.berth("app", "rollback", name, "latest", timeout=30)
    assert garbage.returncode != 0 and "not a version number" in garbage.stderr, garbage.stderr

    unknown = f"never-{uuid.uuid4().hex[:6]}"
    for args in (("rollback", unknown), ("history", unknown)):
        result = platform.berth("app", *args, timeout=30)
        assert result.returncode != 0 and repr(unknown) in result.stderr, result.stderr
        assert "not deployed" in result.stderr or "no deployed versions" in result.stderr

    assert platform.berth("app", "stop", name, timeout=30).returncode == 0
    stopped = platform.berth("app", "rollback", name, timeout=30)
    assert stopped.returncode != 0 and "is stopped" in stopped.stderr, stopped.stderr
    versions = _json(platform, "app", "history", name)
    assert [(v["version"], v["state"]) for v in versions] == [(1, "stopped")]


def test_container_list_and_stop(platform: Platform, tmp_path: Path) -> None:
    name = f"ctrs-{uuid.uuid4().hex[:6]}"
    url = platform.deploy(_write(tmp_path, name, "ok"))["f"]
    assert platform.request("GET", url).json() == "ok"

    rows = _json(platform, "container", "list", name)
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["id"].startswith("c") and row["app"] == name and row["function"] == "f"
    assert (row["version"], row["parameters"], row["state"]) == (1, "", "ready")
    assert row["agent"] == platform.agent_id and row["max_inputs"] == 1 and not row["dev"]
    wait_until(
        lambda: _json(platform, "container", "list", name)[0]["age_seconds"] > 0,
        "the container's age (from the agent's heartbeats)",
        timeout=10,
    )
    everyone = platform.berth("container", "list", timeout=30)
    assert everyone.returncode == 0 and row["id"] in everyone.stdout and name in everyone.stdout

    # A request in flight when the container is stopped still finishes.
    answers: list[httpx.Response] = []
    with httpx.Client(timeout=60) as client:
        slow = threading.Thread(target=lambda: answers.append(send(client, "GET", url, "/?sleep=3")))
        slow.start()
        wait_until(
            lambda: _json(platform, "container", "list", name)[0]["inflight"] == 1,
            "the slow request to show as in flight",
            timeout=10,
        )
        stopped = platform.berth("container", "stop", row["id"], timeout=30)
        assert stopped.returncode == 0, stopped.stderr
        slow.join(timeout=30)
    assert answers and answers[0].status_code == 200 and answers[0].json() == "ok", answers
    wait_until(
        lambda: row["id"] not in {r["id"] for r in _json(platform, "container", "list", name)},
        "the stopped container to leave the list",
        timeout=30,
    )

    assert platform.request("GET", url).json() == "ok"  # the pool boots another on demand
    fresh = _json(platform, "container", "list", name)
    assert len(fresh) == 1 and fresh[0]["id"] != row["id"], fresh

    unknown = platform.berth("container", "stop", "c000000000000", timeout=30)
    assert unknown.returncode != 0 and "no container 'c000000000000'" in unknown.stderr, unknown.stderr
    nobody = platform.berth("container", "list", f"never-{uuid.uuid4().hex[:6]}", timeout=30)
    assert nobody.returncode != 0 and "not deployed" in nobody.stderr, nobody.stderr
