"""How the CLI prints tables, colour and JSON, in one place.

Colour only on a terminal: never when the output is piped or redirected, when `NO_COLOR` is set
to anything non-empty (https://no-color.org), or for `TERM=dumb`. Tables are aligned plain text
either way, so scripts can split them; `--json` is the stable interface for scripts.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from collections.abc import Callable, Collection, Sequence
from typing import Any, TextIO

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}

# How states read at a glance; anything not listed stays uncoloured.
STATE_COLORS = {
    "deployed": "green",
    "serving": "green",
    "ready": "green",
    "booting": "yellow",
    "draining": "yellow",
    "replaced": "dim",
    "stopped": "red",
    "failed": "red",
}


def color_enabled(stream: TextIO | None = None) -> bool:
    """Whether to colour what goes to `stream` (default stdout)."""
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    stream = stream or sys.stdout
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def paint(text: str, color: str | None, *, enabled: bool) -> str:
    """`text` in `color` (a name from _CODES) when enabled, else unchanged."""
    if not enabled or not color or color not in _CODES:
        return text
    return f"\033[{_CODES[color]}m{text}\033[0m"


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[int] = (),
    color_of: Callable[[int, str], str | None] | None = None,
    color: bool = False,
) -> list[str]:
    """Aligned lines: a header, then one line per row. Columns in `right` are right-aligned; the
    last column is never padded (URLs). `color_of(column, cell)` picks a cell's colour, applied
    after padding so the alignment counts visible characters only."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    last = len(headers) - 1

    def line(cells: Sequence[str], colors: Sequence[str | None]) -> str:
        parts = []
        for i, cell in enumerate(cells):
            padded = cell if i == last else (cell.rjust(widths[i]) if i in right else cell.ljust(widths[i]))
            parts.append(paint(padded, colors[i], enabled=color))
        return "  ".join(parts).rstrip()

    lines = [line(headers, ["bold"] * len(headers))]
    for row in rows:
        lines.append(line(row, [color_of(i, cell) if color_of else None for i, cell in enumerate(row)]))
    return lines


def state_colors(state_column: int) -> Callable[[int, str], str | None]:
    """A `color_of` that colours the cells of `state_column` by STATE_COLORS."""
    return lambda i, cell: STATE_COLORS.get(cell) if i == state_column else None


def print_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    right: Collection[int] = (),
    state_column: int | None = None,
) -> None:
    """Prints a table to stdout, coloured when stdout is a terminal."""
    color_of = state_colors(state_column) if state_column is not None else None
    for text in table(headers, rows, right=right, color_of=color_of, color=color_enabled()):
        print(text)


def print_json(value: Any) -> None:
    """`--json` output: indented, keys as given, one document on stdout."""
    print(json.dumps(value, indent=2))


def iso_time(ms: int) -> str | None:
    """A time in ms since the epoch as ISO 8601 UTC to the second; None for 0 (never)."""
    if not ms:
        return None
    return datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC).isoformat(timespec="seconds")
