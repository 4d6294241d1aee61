"""Where `berth secret create` takes values from, besides KEY=VALUE arguments (which land in shell
history): `--from-dotenv FILE`, `--from-json FILE` (`-`: standard input), and a bare `KEY`, whose
value is asked for without echo on a terminal, or read from standard input when piped
(`pass show x | berth secret create NAME TOKEN`).

Error messages name files, lines and keys, never a value.
"""

from __future__ import annotations

import getpass
import json
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from berth._errors import InvalidError

_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}


def _read(source: str, stdin: TextIO) -> str:
    if source == "-":
        return stdin.read()
    try:
        return Path(source).read_text()
    except OSError as exc:
        raise InvalidError(f"cannot read {source}: {exc.strerror}") from None


def parse_dotenv(text: str, where: str) -> dict[str, str]:
    """`KEY=VALUE` lines as a .env file holds them: `export ` prefixes, `#` comments, blank lines,
    'single' (literal) and "double" (with \\n-style escapes) quoted values, and ` #` comments
    after unquoted ones. A later line of the same key wins, as in shells."""
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.removeprefix("export ").partition("=")
        key = key.strip()
        if not sep or not _KEY.match(key):
            raise InvalidError(f"{where}:{number}: not a KEY=VALUE line")
        values[key] = _dotenv_value(value.strip(), f"{where}:{number}")
    return values


def _dotenv_value(value: str, where: str) -> str:
    if value[:1] in ("'", '"'):
        quote = value[0]
        end = value.find(quote, 1)
        while quote == '"' and end > 0 and value[end - 1] == "\\":
            end = value.find(quote, end + 1)
        if end < 0:
            raise InvalidError(f"{where}: the quoted value has no closing {quote}")
        inner = value[1:end]
        if quote == "'":
            return inner
        return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), inner)
    return re.split(r"\s+#", value, maxsplit=1)[0].rstrip()


def parse_json(text: str, where: str) -> dict[str, str]:
    """A JSON object of string keys to string values (numbers and booleans are refused: say "1")."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidError(f"{where}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(data, dict):
        raise InvalidError(f'{where}: expected a JSON object like {{"KEY": "value"}}')
    for key, value in data.items():
        if not isinstance(value, str):
            raise InvalidError(f"{where}: the value of {key!r} is not a string; quote it")
    return dict(data)


def _ask(key: str, stdin: TextIO, *, several: bool) -> str:
    if stdin.isatty():
        return getpass.getpass(f"{key}: ")
    if several:
        raise InvalidError("only one bare KEY can take its value from piped standard input")
    value = stdin.read()
    return value[:-1] if value.endswith("\n") else value  # `echo` adds one; the secret has none


def gather(
    pairs: list[str],
    *,
    dotenv: Sequence[str] = (),
    json_files: Sequence[str] = (),
    stdin: TextIO | None = None,
    ask: Callable[[str, TextIO], str] | None = None,
) -> dict[str, str]:
    """Every value for the secret, from all the sources given; a key given by two is an error."""
    stdin = stdin or sys.stdin
    found: dict[str, tuple[str, str]] = {}  # key -> (value, where it came from)

    def add(values: dict[str, str], where: str) -> None:
        for key, value in values.items():
            if key in found:
                raise InvalidError(f"{key} is given twice ({found[key][1]} and {where}); give it once")
            found[key] = (value, where)

    bare = [pair for pair in pairs if "=" not in pair]
    if sum(1 for source in [*dotenv, *json_files] if source == "-") + (1 if bare else 0) > 1:
        raise InvalidError("standard input can be read once: give one of `-` or bare KEYs, not several")
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not key or (not sep and not _KEY.match(key)):
            raise InvalidError(f"{key!r} is not KEY=VALUE (or a bare KEY whose value comes from stdin)")
        if sep:
            add({key: value}, "the command line")
        else:
            add({key: ask(key, stdin) if ask else _ask(key, stdin, several=len(bare) > 1)}, "stdin")
    for source in dotenv:
        add(parse_dotenv(_read(source, stdin), "stdin" if source == "-" else source), source)
    for source in json_files:
        add(parse_json(_read(source, stdin), "stdin" if source == "-" else source), source)
    if not found:
        raise InvalidError(
            "give at least one KEY=VALUE, a bare KEY (value from stdin), --from-dotenv or --from-json"
        )
    return {key: value for key, (value, _) in found.items()}
