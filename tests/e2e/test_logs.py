"""What runs is visible: `berth serve` streams prints and access lines, `berth app logs` filters.

Shares the session platform; the two apps share test_serve.py's image, so nothing new is built.
"""

from __future__ import annotations

import datetime
import queue
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import BERTH, Platform, line_queue, stop_process, wait_until

pytestmark = pytest.mark.xdist_group("serve")

SOURCE = """
import berth
from fastapi import Request

app = berth.App("{name}", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint()
def alpha(request: Request):
    print("alpha says hello", flush=True)
    return request.headers.get("x-berth-request-id", "")


@app.function()
@berth.fastapi_endpoint()
def beta(request: Request):
    print("beta says hello", flush=True)
    return request.headers.get("x-berth-request-id", "")
"""

# TIME FUNCTION[PARAMS] CONTAINER STREAM: TEXT
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} (\w+)(?:\[\S*\])? (\S+) (\w+): (.*)$")
ACCESS = re.compile(r"^(GET|POST|PUT|DELETE|WS) (\S+) (\d+) [\d.]+ms request ([0-9a-f]{16})$")


def parsed(output: str) -> list[tuple[str, str, str, str]]:
    """(function, container, stream, text) of each line; fails on a line of another shape."""
    out = []
    for raw in output.splitlines():
        found = LINE.match(raw)
        assert found, f"not a log line: {raw!r}"
        out.append((found.group(1), found.group(2), found.group(3), found.group(4)))
    return out


def access_ids(lines: list[tuple[str, str, str, str]], function: str) -> list[str]:
    ids = []
    for fn, _, stream, text in lines:
        if stream == "access" and fn == function:
            found = ACCESS.match(text)
            assert found, text
            assert (found.group(1), found.group(2), found.group(3)) == ("GET", "/", "200"), text
            ids.append(found.group(4))
    return ids


def app_logs(platform: Platform, *args: str) -> str:
    result = platform.berth("app", "logs", *args, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_serve_shows_the_handlers_print_and_its_access_line(platform: Platform, tmp_path: Path) -> None:
    app_file = tmp_path / "served_logs.py"
    app_file.write_text(SOURCE.format(name="logs-served"))
    serve = subprocess.Popen(
        [BERTH, "serve", str(app_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=platform.env,
    )
    lines = line_queue(serve.stdout)
    seen: list[str] = []

    def read_until(pattern: str, timeout: float) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert serve.poll() is None, "".join(seen)
                continue
            seen.append(line)
            found = re.search(pattern, line)
            if found:
                return found
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n{''.join(seen)}")

    try:
        url = read_until(r"^alpha: (\S+)$", 120).group(1)
        # A client's own request id is dropped: the container sees the edge's.
        response = platform.request("GET", url, headers={"x-berth-request-id": "forged"})
        assert response.status_code == 200, response.text
        rid = response.json()
        assert re.fullmatch(r"[0-9a-f]{16}", rid), rid
        read_until(r" alpha \S+ stdout: alpha says hello$", 60)
        read_until(rf" alpha \S+ access: GET / 200 [\d.]+ms request {rid}$", 60)
        # `berth app logs` reads a served app too.
        assert "alpha says hello" in app_logs(platform, "logs-served", "--function", "alpha")
    finally:
        code = stop_process(serve, signal.SIGINT)
    assert code == 0, "".join(seen)


def test_app_logs_filters_by_function_time_and_tail(platform: Platform, tmp_path: Path) -> None:
    app_file = tmp_path / "deployed_logs.py"
    app_file.write_text(SOURCE.format(name="logs-deployed"))
    urls = platform.deploy(app_file)
    alpha_ids = [platform.request("GET", urls["alpha"]).json() for _ in range(2)]
    wait_until(
        lambda: sorted(access_ids(parsed(app_logs(platform, "logs-deployed")), "alpha")) == sorted(alpha_ids),
        "both alpha requests' access lines",
        timeout=30,
    )
    between = datetime.datetime.now().isoformat()
    beta_id = platform.request("GET", urls["beta"]).json()
    wait_until(
        lambda: access_ids(parsed(app_logs(platform, "logs-deployed")), "beta") == [beta_id],
        "beta's access line",
        timeout=30,
    )

    everything = parsed(app_logs(platform, "logs-deployed"))
    # One access line per request, each with its own id, and each function's print.
    assert sorted(access_ids(everything, "alpha")) == sorted(alpha_ids)
    assert access_ids(everything, "beta") == [beta_id]
    assert ("alpha", "stdout", "alpha says hello") in {(f, s, t) for f, _, s, t in everything}
    assert all(container != "-" for _, container, _, _ in everything)

    alpha_only = parsed(app_logs(platform, "logs-deployed", "--function", "alpha"))
    assert alpha_only and {fn for fn, _, _, _ in alpha_only} == {"alpha"}
    assert sorted(access_ids(alpha_only, "alpha")) == sorted(alpha_ids)
    assert not any("beta says hello" in text for _, _, _, text in alpha_only)

    since = parsed(app_logs(platform, "logs-deployed", "--since", between))
    assert access_ids(since, "beta") == [beta_id]
    assert access_ids(since, "alpha") == []  # alpha's requests came before

    tail = parsed(app_logs(platform, "logs-deployed", "--function", "alpha", "--tail", "2"))
    assert tail == alpha_only[-2:]

    wrong = platform.berth("app", "logs", "logs-deployed", "--since", "yesterday")
    assert wrong.returncode == 1 and "--since 'yesterday' is neither an age" in wrong.stderr
    missing = platform.berth("app", "logs", "no-such-logs-app")
    assert missing.returncode == 1 and "'no-such-logs-app' is not deployed" in missing.stderr
