"""What the CLI prints: --version, --json that parses, tables plain when piped or with NO_COLOR,
examples in every --help, shell completion, and the hint when no API is configured."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from berth.cli import apps, containers, history, output, proxy_auth, secrets, tokens
from berth.cli.client import Api, UnavailableError
from berth.cli.completion import script
from berth.cli.config import ClientConfig
from berth.cli.examples import EXAMPLES, attach
from berth.cli.main import _parser, build_parser, main
from berth.cli.parser_tree import walk
from berth.v1 import control_pb2

ESC = "\033["


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _listing() -> control_pb2.ListAppsResponse:
    return control_pb2.ListAppsResponse(
        apps=[
            control_pb2.AppSummary(
                name="hello",
                version=3,
                state="deployed",
                containers=1,
                deployed_at_ms=1_700_000_000_000,
                urls=[control_pb2.FunctionUrl(function="f", url="http://local--hello-f.localhost:8000/")],
            ),
            control_pb2.AppSummary(name="old", version=7, state="stopped", deployed_at_ms=1_600_000_000_000),
        ]
    )


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("berth ") and out.split()[1][0].isdigit(), out


def test_json_outputs_parse(capsys: pytest.CaptureFixture[str]) -> None:
    apps.print_apps(_listing(), as_json=True)
    listed = json.loads(capsys.readouterr().out)
    assert [a["name"] for a in listed] == ["hello", "old"]
    assert listed[0]["urls"] == [
        {"function": "f", "url": "http://local--hello-f.localhost:8000/", "custom_domains": []}
    ]
    assert listed[1]["state"] == "stopped" and listed[1]["deployed"] == "2020-09-13T12:26:40+00:00"

    secrets.print_secrets(
        [control_pb2.SecretSummary(name="db", keys=["USER", "PASSWORD"], created_at_ms=1)], as_json=True
    )
    assert json.loads(capsys.readouterr().out) == [
        {"name": "db", "created": "1970-01-01T00:00:00+00:00", "keys": ["USER", "PASSWORD"]}
    ]
    tokens.print_tokens([control_pb2.TokenSummary(name="ci", created_at_ms=1000)], as_json=True)
    assert json.loads(capsys.readouterr().out)[0] == {
        "name": "ci",
        "created": "1970-01-01T00:00:01+00:00",
        "last_used": None,
    }
    proxy_auth.print_tokens([control_pb2.ProxyAuthTokenSummary(key="wk-1", name="n")], as_json=True)
    assert json.loads(capsys.readouterr().out)[0]["key"] == "wk-1"
    containers.print_containers([control_pb2.ContainerSummary(container_id="c1")], as_json=True)
    assert json.loads(capsys.readouterr().out)[0]["id"] == "c1"
    history.print_history([control_pb2.AppVersion(version=1, state="serving")], as_json=True)
    assert json.loads(capsys.readouterr().out)[0]["version"] == 1
    for empty in (
        lambda: apps.print_apps(control_pb2.ListAppsResponse(), as_json=True),
        lambda: secrets.print_secrets([], as_json=True),
        lambda: tokens.print_tokens([], as_json=True),
    ):
        empty()
        assert json.loads(capsys.readouterr().out) == []


def test_every_list_command_takes_json() -> None:
    for command in walk(build_parser()):
        if command.path[-1:] in (("list",), ("history",)):
            assert "--json" in command.options, command.path


def test_piped_output_is_plain(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    apps.print_apps(_listing())
    out = capsys.readouterr().out  # captured: not a terminal
    assert ESC not in out
    header, hello, old = out.splitlines()
    assert header.split() == ["NAME", "VERSION", "STATE", "CONTAINERS", "URLS"]
    assert hello.split() == ["hello", "3", "deployed", "1", "http://local--hello-f.localhost:8000/"]
    assert old.split() == ["old", "7", "stopped", "0", "-"]


def test_colour_only_on_a_terminal_without_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert output.color_enabled(Terminal())
    assert not output.color_enabled(io.StringIO())
    monkeypatch.setenv("NO_COLOR", "1")
    assert not output.color_enabled(Terminal())
    monkeypatch.setenv("NO_COLOR", "")  # no-color.org: set *and non-empty*
    assert output.color_enabled(Terminal())
    monkeypatch.setenv("TERM", "dumb")
    assert not output.color_enabled(Terminal())


def test_coloured_table_keeps_its_alignment() -> None:
    rows = [["a", "deployed", "x"], ["bbbbbb", "stopped", "y"]]
    plain = output.table(["NAME", "STATE", "URL"], rows)
    painted = output.table(["NAME", "STATE", "URL"], rows, color_of=output.state_colors(1), color=True)
    assert ESC in painted[2] and "\033[31mstopped" in painted[2]
    strip = [re.sub(r"\033\[\d+m", "", line) for line in painted]
    assert strip == plain


def test_every_command_has_an_example() -> None:
    parser = _parser()
    assert attach(parser) == [], "commands without an entry in berth/cli/examples.py"
    for command in walk(parser):
        assert "\nexamples:\n  " in command.parser.format_help(), command.path
    assert set(EXAMPLES) == {c.path for c in walk(parser)}, "examples for commands that do not exist"


def test_completion_script_completes(tmp_path: Path) -> None:
    bash = tmp_path / "berth.bash"
    bash.write_text(script(build_parser(), "bash"))
    probe = (
        f"source {bash}\n"
        'complete_at() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _berth; echo "${COMPREPLY[*]}"; }\n'
        "complete_at berth ap\n"
        "complete_at berth app list --\n"
        "complete_at berth secret create db --from-d\n"
    )
    done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    apps_line, list_options, dotenv = done.stdout.splitlines()
    assert apps_line == "app"
    assert set(list_options.split()) >= {"--all", "--json", "--help"}
    assert dotenv == "--from-dotenv"
    assert "bashcompinit" in script(build_parser(), "zsh")


def test_no_api_names_berth_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("BERTH_SERVER", "BERTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BERTH_HOME", str(tmp_path / "elsewhere"))
    with pytest.raises(UnavailableError) as info:
        Api()
    message = str(info.value)
    assert "BERTH_HOME" in message and "--home" in message and "berth login" in message
    assert str(tmp_path / "elsewhere" / "config.toml") in message
    with pytest.raises(UnavailableError):
        Api(ClientConfig(server="", token="t"))


def test_no_api_is_one_line_from_the_command(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "BERTH_HOME": str(tmp_path), "HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "berth.cli.main", "app", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "BERTH_HOME" in done.stderr, done.stderr
