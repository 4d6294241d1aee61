"""The dashboard's sampler works only while the dashboard is in use, so an idle edge stays idle."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from services.edge.dashboard import Sampler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_sampling_pauses_when_unused_and_resumes_on_the_next_page() -> None:
    clock = Clock()
    sampler = Sampler(CollectorRegistry(), clock=clock, every=0.001, idle_after=60.0)
    assert sampler._task is None  # an edge nobody has looked at samples nothing
    sampler.figures()
    task = sampler._task
    assert task is not None and not task.done()
    clock.now += 61.0  # nobody looked for longer than idle_after
    await asyncio.wait_for(task, 5.0)  # the loop ends by itself: no work while unused

    sampler.figures()  # a page asks again
    resumed = sampler._task
    assert resumed is not None and resumed is not task and not resumed.done()
    await sampler.stop()
    assert resumed.done()
