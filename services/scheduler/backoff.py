"""Crash-loop backoff: when a function's containers fail at start, when to try booting again.

Each start failure in a row doubles the wait before the next boot (BASE, 2*BASE, ... capped at
CAP), so a function that raises at import costs a handful of boots a minute rather than one per
request. While it waits, requests for it fail at once with a 503 naming the failure instead of
each booting (and failing) a container of its own; once the wait is over, one probe container
boots at a time. The first container that starts fine clears it all. Pure: the Assigner keeps one
`StartFailures` per function version and passes the time in.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

BASE = 1.0  # seconds before the boot after a first start failure
CAP = 30.0  # the longest wait between boots, however many failed


@dataclass(frozen=True)
class StartFailures:
    """A function version's start failures since its last container started fine."""

    count: int
    last_error: str  # the last failure's first line, for `berth app list`
    since: float  # when the first of them happened
    not_before: float  # no boot before this time


def delay(count: int, *, base: float = BASE, cap: float = CAP) -> float:
    """Seconds to wait after `count` start failures in a row: 0, then base * 2^(count-1), capped."""
    if count <= 0:
        return 0.0
    return min(cap, base * 2 ** min(count - 1, 32))


def one_line(error: str) -> str:
    """The first non-blank line of a boot error, which is what the agent puts its summary in."""
    for line in error.splitlines():
        if line.strip():
            return line.strip()
    return "the container failed to start"


def failed(previous: StartFailures | None, error: str, now: float) -> StartFailures:
    """The state after one more start failure at `now`."""
    count = (previous.count if previous else 0) + 1
    return StartFailures(
        count=count,
        last_error=one_line(error),
        since=previous.since if previous else now,
        not_before=now + delay(count),
    )


def waiting(failures: StartFailures | None, now: float) -> bool:
    """Whether boots are held back at `now`."""
    return failures is not None and now < failures.not_before


def boots_allowed(failures: StartFailures | None, wanted: int, booting: int, now: float) -> int:
    """How many of `wanted` boots may start at `now`, `booting` being under way: all of them while
    the function has not failed; while it fails, none during the wait and then a single probe."""
    if failures is None:
        return wanted
    if waiting(failures, now):
        return 0
    return min(wanted, max(0, 1 - booting))


def retry_in(failures: StartFailures, now: float) -> float:
    """Seconds until the next boot may start (0 when it may now)."""
    return max(0.0, failures.not_before - now)


def pushed_back(failures: StartFailures, now: float) -> StartFailures:
    """`failures` with its wait restarted at `now` (e.g. for a boot that could not be placed)."""
    return replace(failures, not_before=max(failures.not_before, now + delay(failures.count)))


def message(function: str, failures: StartFailures) -> str:
    """What requests for a function that fails at start are answered with (a 503): the edge shows
    a deployed app's clients the part before the first ": " and logs the rest under a request id."""
    return f"{function} fails at start: {failures.last_error}"
