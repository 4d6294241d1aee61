"""The examples `berth ... --help` ends with, one block per command.

`attach` puts them on the parser; a command without an entry here gets none, and the unit tests
name it (tests/unit/cli/test_cli_output.py), so a new command comes with its example.
"""

from __future__ import annotations

import argparse

from berth.cli.parser_tree import walk

EXAMPLES: dict[tuple[str, ...], list[str]] = {
    (): [
        "berth up                              # start the platform on :8000",
        "berth deploy examples/hello.py        # prints the app's URLs",
        "berth app list",
        "berth <command> --help                # each command's options and examples",
    ],
    ("up",): ["berth up", "berth up --port 8080 --home /tmp/berth   # then: export BERTH_HOME=/tmp/berth"],
    ("deploy",): [
        "berth deploy app.py",
        "berth deploy app.py --name shop --verbose   # every package installed",
    ],
    ("run",): [
        "berth run app.py                  # its @app.local_entrypoint(), against an ephemeral copy",
        "berth run app.py::main --x 1 --verbose",
        "berth run app.py::square --x 3    # calls square.remote(x=3) and prints the result",
    ],
    ("serve",): ["berth serve app.py        # -dev URLs; redeploys on every save, Ctrl-C removes it"],
    ("login",): [
        "berth login --server 127.0.0.1:7100 --token - --edge http://localhost:8000 < api.token",
    ],
    ("completion",): [
        "berth completion bash > ~/.local/share/bash-completion/completions/berth",
        "echo 'eval \"$(berth completion zsh)\"' >> ~/.zshrc",
    ],
    ("app",): ["berth app list --all", "berth app logs hello -f"],
    ("app", "list"): ["berth app list", "berth app list --all --json   # stopped apps too, for scripts"],
    ("app", "stop"): ["berth app stop hello"],
    ("app", "logs"): ["berth app logs hello", "berth app logs hello -f --since 10m"],
    ("app", "history"): ["berth app history hello", "berth app history hello --json"],
    ("app", "rollback"): [
        "berth app rollback hello        # the version before the serving one",
        "berth app rollback hello v3",
    ],
    ("container",): ["berth container list", "berth container stop c0123456789ab"],
    ("container", "list"): ["berth container list", "berth container list hello --json"],
    ("container", "stop"): ["berth container stop c0123456789ab"],
    ("secret",): ["berth secret create db --from-dotenv .env", "berth secret list"],
    ("secret", "create"): [
        "berth secret create db --from-dotenv .env",
        "berth secret create db --from-json db.json --force",
        "berth secret create api API_KEY           # asks for the value (or reads it from a pipe)",
        "pass show api | berth secret create api API_KEY",
        "berth secret create api API_KEY=s3cret    # lands in shell history",
    ],
    ("secret", "list"): ["berth secret list", "berth secret list --json"],
    ("secret", "delete"): ["berth secret delete db"],
    ("token",): ["TOKEN=$(berth token create ci)", "berth token list"],
    ("token", "create"): ["TOKEN=$(berth token create ci)   # printed once: use it as BERTH_TOKEN"],
    ("token", "list"): ["berth token list", "berth token list --json"],
    ("token", "revoke"): ["berth token revoke ci"],
    ("proxy-auth",): ["berth proxy-auth create ci", "berth proxy-auth list"],
    ("proxy-auth", "create"): ["berth proxy-auth create ci", "berth proxy-auth create ci --json"],
    ("proxy-auth", "list"): ["berth proxy-auth list", "berth proxy-auth list --json"],
    ("proxy-auth", "revoke"): ["berth proxy-auth revoke wk-0123456789abcdef"],
}


def attach(parser: argparse.ArgumentParser) -> list[tuple[str, ...]]:
    """Sets each command's `--help` epilog to its examples; returns the commands that have none."""
    missing = []
    for command in walk(parser):
        lines = EXAMPLES.get(command.path)
        if not lines:
            missing.append(command.path)
            continue
        command.parser.epilog = "examples:\n" + "\n".join(f"  {line}" for line in lines)
        # Keeps the examples' line breaks (the default formatter would rewrap them into one).
        command.parser.formatter_class = argparse.RawDescriptionHelpFormatter
    return missing
