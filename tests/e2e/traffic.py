"""Steady load for end-to-end tests: requests at a fixed rate from a pool of threads, every
status and body recorded, so a test can assert that none failed while it restarted or redeployed
something underneath."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.e2e.conftest import send

RATE = 20.0  # requests/s, the acceptance's load (issue #9)


@dataclass
class Load:
    """Requests at RATE per second from a pool of threads, each one's status and body recorded
    in the order they were sent (a slow answer does not hold up the next request)."""

    url: str
    rate: float = RATE
    results: list[tuple[float, int, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _one(self, client: httpx.Client) -> None:
        sent = time.monotonic()
        try:
            response = send(client, "GET", self.url)
            outcome = (sent, response.status_code, response.text)
        except httpx.HTTPError as exc:
            outcome = (sent, 0, f"{type(exc).__name__}: {exc}")
        with self.lock:
            self.results.append(outcome)

    def run(self) -> None:
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
        with httpx.Client(timeout=60, limits=limits) as client, ThreadPoolExecutor(32) as workers:
            next_at = time.monotonic()
            while not self.stop.is_set():
                workers.submit(self._one, client)
                next_at += 1 / self.rate
                self.stop.wait(max(0.0, next_at - time.monotonic()))

    def answers(self) -> list[str]:
        with self.lock:
            return [body for _, _, body in sorted(self.results)]

    def count(self, body: str) -> int:
        return sum(1 for answer in self.answers() if answer == body)

    def failures(self) -> list[tuple[int, str]]:
        """(status, start of body) of every request that did not get a 200; 0 for no answer."""
        with self.lock:
            return [(status, body[:200]) for _, status, body in self.results if status != 200]


@contextmanager
def load(url: str, rate: float = RATE) -> Iterator[Load]:
    running = Load(url, rate)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    try:
        yield running
    finally:
        running.stop.set()
        thread.join(timeout=90)  # the pool waits for requests in flight (each times out at 60 s)
        assert not thread.is_alive(), "the load's requests did not end"
