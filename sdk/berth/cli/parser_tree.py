"""Walking the CLI's argparse tree: every command with its path, subcommands and options. Used to
attach `--help` examples and to write shell completion, so both follow the parser as it grows."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Command:
    path: tuple[str, ...]  # () for `berth` itself, ("app", "list") for `berth app list`
    parser: argparse.ArgumentParser
    subcommands: tuple[str, ...]
    options: tuple[str, ...]  # every option string, e.g. --json, -f, --follow


def walk(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[Command]:
    """`parser` and every command below it, parents before children."""
    subcommands: dict[str, argparse.ArgumentParser] = {}
    options: list[str] = []
    for action in parser._actions:  # argparse offers no public way to list them
        if isinstance(action, argparse._SubParsersAction):
            subcommands.update(action.choices)
        elif action.help != argparse.SUPPRESS:
            options.extend(action.option_strings)
    yield Command(path, parser, tuple(subcommands), tuple(options))
    for name, child in subcommands.items():
        yield from walk(child, (*path, name))
