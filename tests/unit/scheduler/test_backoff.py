"""Crash-loop backoff decisions, with time passed in."""

from __future__ import annotations

from services.scheduler import backoff
from services.scheduler.backoff import BASE, CAP

NOW = 1000.0
ERROR = "RuntimeError: db down (at /srv/code/app.py:3)\nTraceback ..."


def test_the_wait_doubles_per_failure_in_a_row_up_to_the_cap() -> None:
    assert backoff.delay(0) == 0
    assert [backoff.delay(n) for n in (1, 2, 3, 4)] == [BASE, 2 * BASE, 4 * BASE, 8 * BASE]
    assert backoff.delay(100) == CAP
    assert backoff.delay(3, base=0.5, cap=1.5) == 1.5


def test_each_failure_counts_keeps_the_first_time_and_the_last_error_line() -> None:
    first = backoff.failed(None, ERROR, NOW)
    assert (first.count, first.since, first.not_before) == (1, NOW, NOW + BASE)
    assert first.last_error == "RuntimeError: db down (at /srv/code/app.py:3)"
    second = backoff.failed(first, "\n  OSError: gone\n", NOW + 5)
    assert (second.count, second.since, second.not_before) == (2, NOW, NOW + 5 + 2 * BASE)
    assert second.last_error == "OSError: gone"
    assert backoff.failed(None, "", NOW).last_error == "the container failed to start"


def test_no_boot_while_waiting_then_a_single_probe() -> None:
    assert backoff.boots_allowed(None, 5, 0, NOW) == 5  # never failed: boots as the load needs
    failures = backoff.failed(None, ERROR, NOW)
    assert backoff.waiting(failures, NOW + BASE / 2)
    assert backoff.boots_allowed(failures, 5, 0, NOW + BASE / 2) == 0
    assert not backoff.waiting(failures, NOW + BASE)
    assert backoff.boots_allowed(failures, 5, 0, NOW + BASE) == 1
    assert backoff.boots_allowed(failures, 5, 1, NOW + BASE) == 0  # the probe is under way
    assert backoff.boots_allowed(failures, 0, 0, NOW + BASE) == 0  # nothing wanted


def test_retry_in_and_the_message_requests_get() -> None:
    failures = backoff.failed(backoff.failed(None, ERROR, NOW), ERROR, NOW)
    assert backoff.retry_in(failures, NOW + 0.5) == 2 * BASE - 0.5
    assert backoff.retry_in(failures, NOW + 60) == 0
    # The edge shows a deployed app's clients the part before the first ": ".
    assert backoff.message("web", failures) == f"web fails at start: {failures.last_error}"
    pushed = backoff.pushed_back(failures, NOW + 10)
    assert pushed.not_before == NOW + 10 + 2 * BASE and pushed.count == 2
