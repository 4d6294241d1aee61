"""Function calls end to end: handlers calling other functions from inside containers, scripts
calling with `Function.from_name` over HTTP with the API token, `berth run`, remote exceptions,
a 200-input `.map`, and class methods with parameters."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import BERTH, Platform, line_queue, stop_process

APPS = Path(__file__).parent / "apps"

pytestmark = pytest.mark.xdist_group("function-calls")


@pytest.fixture(scope="module")
def calls_app(platform: Platform) -> dict[str, str]:
    return platform.deploy(APPS / "calls.py")


def run_script(platform: Platform, code: str, timeout: float = 300) -> Any:
    """Runs `code` in a fresh interpreter that knows the platform only by BERTH_HOME (its config
    names the API, the token and the edge); returns what it printed last, as JSON."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=platform.env,
        cwd=platform.home,
    )
    assert result.returncode == 0, f"script failed:\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_handler_calls_other_functions(platform: Platform, calls_app: dict[str, str]) -> None:
    response = platform.request("GET", calls_app["fan"], "/?n=4")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["remote"] == 16
    assert body["remote_gen"] == [0, 10, 20, 30]
    assert body["map"] == [0, 1, 4, 9]
    assert body["starmap"] == [1, 4]
    assert body["spawned"] == 25
    assert body["model"] == 12
    failure = body["failure"]
    assert (failure["type"], failure["message"]) == ("ValueError", "bad value value")
    assert any("Remote traceback" in note and "in fail" in note for note in failure["notes"]), failure


def test_async_handler_uses_the_aio_flavours(platform: Platform, calls_app: dict[str, str]) -> None:
    response = platform.request("GET", calls_app["fan_async"], "/?n=3")
    assert response.status_code == 200, response.text
    assert response.json() == {"remote": 9, "map": [0, 1, 4]}
    refused = platform.request("GET", calls_app["blocking_in_async"])
    assert refused.status_code == 200 and "await f.remote.aio" in refused.json(), refused.text


def test_script_calls_by_name(platform: Platform, calls_app: dict[str, str]) -> None:
    answer = run_script(
        platform,
        """
        import json
        import berth

        square = berth.Function.from_name("calls", "square")
        call = square.spawn(9)
        out = {
            "remote": square.remote(7),
            "gen": list(berth.Function.from_name("calls", "count").remote_gen(3)),
            "spawned": berth.FunctionCall.from_id(call.object_id).get(),
            "model": berth.Cls.from_name("calls", "Model")(p=5).predict.remote(3),
        }
        try:
            berth.Function.from_name("calls", "nope").remote(1)
        except berth.NotFoundError as exc:
            out["missing"] = str(exc)
        print(json.dumps(out))
        """,
    )
    assert answer["remote"] == 49 and answer["gen"] == [0, 10, 20] and answer["spawned"] == 81
    assert answer["model"] == 15
    assert "nope" in answer["missing"], answer


def test_remote_exceptions_carry_the_remote_traceback(platform: Platform, calls_app: dict[str, str]) -> None:
    answer = run_script(
        platform,
        """
        import json
        import berth

        fail = berth.Function.from_name("calls", "fail")
        out = {}
        try:
            fail.remote("value")
        except ValueError as exc:  # a builtin type: re-raised as itself
            out["value"] = [str(exc), exc.__notes__]
        try:
            fail.remote("custom")
        except berth.exception.RemoteError as exc:  # Oops lives in the app file only
            out["custom"] = [exc.type_name, exc.message, exc.traceback]
        print(json.dumps(out))
        """,
    )
    message, notes = answer["value"]
    assert message == "bad value value"
    assert "Remote traceback" in notes[0] and 'raise ValueError(f"bad value {kind}")' in notes[0]
    type_name, text, traceback = answer["custom"]
    assert (type_name, text) == ("Oops", "custom failure")
    assert "Traceback" in traceback and 'raise Oops("custom failure")' in traceback


def test_map_of_200_inputs_over_ten_containers(platform: Platform, calls_app: dict[str, str]) -> None:
    answer = run_script(
        platform,
        """
        import json
        import berth

        results = list(berth.Function.from_name("calls", "double").map(range(200)))
        print(json.dumps(results))
        """,
    )
    assert [r["x"] for r in answer] == [2 * x for x in range(200)]
    containers = {r["container"] for r in answer}
    assert 1 <= len(containers) <= 10, containers


def test_berth_run_local_entrypoint(platform: Platform) -> None:
    result = platform.berth("run", f"{APPS / 'calls_run.py'}::main", "--x", "4", "--label", "got", "--shout")
    assert result.returncode == 0, result.stderr
    assert "GOT: SQUARE=16 MODEL=8" in result.stdout, result.stdout
    assert "stopped calls-run" in result.stderr
    assert _dev_app_running(platform, "calls-run") is False


def test_berth_run_function_and_failing_entrypoint(platform: Platform) -> None:
    result = platform.berth("run", f"{APPS / 'calls_run.py'}::square", "--x", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "25"
    failed = platform.berth("run", f"{APPS / 'calls_run.py'}::boom")
    assert failed.returncode != 0
    assert "RuntimeError: the entrypoint failed" in failed.stderr
    assert "stopped calls-run" in failed.stderr  # stopped on error too
    assert _dev_app_running(platform, "calls-run") is False
    bad = platform.berth("run", f"{APPS / 'calls_run.py'}::main", "--x", "four")
    assert bad.returncode == 1 and "invalid int value: 'four'" in bad.stderr


def test_berth_run_interrupted_stops_the_copy(platform: Platform) -> None:
    run = subprocess.Popen(
        [BERTH, "run", f"{APPS / 'calls_run.py'}::wait"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=platform.env,
        cwd=platform.home,
    )
    errors = line_queue(run.stderr)
    try:
        lines = line_queue(run.stdout)
        assert lines.get(timeout=300).strip() == "ready 4"  # the entrypoint runs, its call answered
        assert _dev_app_running(platform, "calls-run") is True
        run.send_signal(signal.SIGINT)
        assert run.wait(timeout=60) == 130
    finally:
        stop_process(run, signal.SIGKILL)
    seen = []
    while not any("stopped calls-run" in line for line in seen):
        seen.append(errors.get(timeout=30))  # what it printed is all there once it exited
    assert _dev_app_running(platform, "calls-run") is False


def test_berth_run_leaves_a_served_copy_alone(platform: Platform) -> None:
    # `berth serve` keeps the app's one ephemeral copy up (deployed as `deploy --dev` does): a run
    # must neither replace its code nor stop it when done.
    served = platform.berth("deploy", str(APPS / "calls_run.py"), "--dev")
    assert served.returncode == 0, served.stderr
    try:
        refused = platform.berth("run", f"{APPS / 'calls_run.py'}::square", "--x", "5")
        assert refused.returncode == 1
        assert "already has an ephemeral copy up" in refused.stderr, refused.stderr
        assert _dev_app_running(platform, "calls-run") is True
    finally:
        # What `berth serve` does when it ends (the CLI has no command to stop a served copy).
        stop = "from berth.cli.apps import stop_app; from berth.cli.client import Api; "
        stop += "stop_app(Api(), 'calls-run', ephemeral=True)"
        subprocess.run([sys.executable, "-c", stop], env=platform.env, check=True, timeout=60)
    assert _dev_app_running(platform, "calls-run") is False


def _dev_app_running(platform: Platform, name: str) -> bool:
    listing = platform.berth("app", "list", "--json")
    assert listing.returncode == 0, listing.stderr
    return any(app["name"] == name and app["dev"] for app in json.loads(listing.stdout))
