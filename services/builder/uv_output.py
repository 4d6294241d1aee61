"""What of uv's output a deploy shows: a summary line per install, the rest on request.

uv prints one line per package (` + fastapi==0.115.0`) and lines naming paths inside the
platform (`Creating virtual environment at: …/images/<id>/venv`, `Activate with: source …`),
which mean nothing to whoever deploys. Those become *detail* lines (BuildEvent.detail_line,
shown by `berth deploy --verbose`); the builder says instead what happened, in one line
(`installed 59 packages in 3.1 s`). uv's warnings and errors stay ordinary log lines, and a
failed build's message still carries the full tail of uv's output.
"""

from __future__ import annotations

import re

# uv's progress and bookkeeping lines (leading spaces vary between uv versions).
_DETAIL = re.compile(
    r"^\s*(?:[+\-~] \S"
    r"|Using (?:CPython|Python|PyPy|GraalPy)\b"
    r"|Creating virtual environment\b"
    r"|Activate with:"
    r"|(?:Resolved|Prepared|Installed|Uninstalled|Audited|Checked) \d+ packages?\b"
    r"|Download(?:ing|ed) "
    r"|Buil(?:ding|t) "
    r"|Bytecode compiled\b)"
)


def is_detail(line: str) -> bool:
    """Whether `line` is uv output that only `--verbose` shows."""
    return bool(_DETAIL.match(line))


def install_summary(installed: int, seconds: float) -> str:
    """The one line a pip_install step shows: `installed 59 packages in 3.1 s`."""
    if installed == 0:
        return f"nothing to install: every package was already there ({seconds:.1f} s)"
    return f"installed {installed} package{'s' if installed != 1 else ''} in {seconds:.1f} s"
