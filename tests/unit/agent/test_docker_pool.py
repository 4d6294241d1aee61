"""The Docker runtime's pool of pre-started containers, with real FIFOs and no Docker: a container
is "ready" once something holds its FIFO open for reading, as the waiting interpreter does."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.agent.runtime import docker_pool
from services.agent.runtime.docker_params import Limits
from services.agent.runtime.docker_pool import Pool, PoolKey, Prestarted


class Engine:
    """Starts fake pre-started containers: a FIFO each; `ready()` makes one wait at it."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.started: list[Prestarted] = []
        self.discarded: list[Prestarted] = []
        self.readers: dict[str, int] = {}
        self.release = asyncio.Event()
        self.release.set()

    async def start(self, key: PoolKey) -> Prestarted:
        await self.release.wait()
        run = self.tmp_path / f"run{len(self.started)}"
        run.mkdir()
        prestarted = Prestarted(
            docker_id=f"id{len(self.started)}",
            slot=None,  # type: ignore[arg-type]  # the pool never looks at it
            fifo=Prestarted.make_fifo(run, os.getuid(), os.getgid()),
        )
        self.started.append(prestarted)
        return prestarted

    def discard(self, prestarted: Prestarted) -> None:
        self.discarded.append(prestarted)

    def ready(self, prestarted: Prestarted) -> None:
        self.readers[prestarted.docker_id] = os.open(prestarted.fifo, os.O_RDONLY | os.O_NONBLOCK)

    def received(self, prestarted: Prestarted) -> dict[str, str]:
        return dict(json.loads(os.read(self.readers[prestarted.docker_id], 1 << 16))["env"])

    def close(self) -> None:
        for fd in self.readers.values():
            os.close(fd)


KEY = PoolKey.of("berth-img:a", "/usr/bin/python3", Limits(), {"PYTHONUNBUFFERED": "1"})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = Engine(tmp_path)
    yield made
    made.close()


def _pool(engine: Engine, **kwargs: float) -> Pool:
    return Pool(start=engine.start, discard=engine.discard, size=1, **kwargs)


async def test_a_ready_container_is_taken_specialised_and_replaced(engine: Engine) -> None:
    pool = _pool(engine)
    assert await pool.take(KEY) is None  # nothing pre-started before the first launch of a kind
    pool.refill(KEY)
    await asyncio.sleep(0)
    assert len(engine.started) == 1
    engine.ready(engine.started[0])
    taken = await pool.take(KEY)
    assert taken is engine.started[0] and taken.taken
    taken.specialise({"SECRET": "s"})
    assert engine.received(taken) == {"SECRET": "s"}
    assert await pool.take(KEY) is None
    pool.refill(KEY)
    await asyncio.sleep(0)
    assert len(engine.started) == 2
    await pool.close()
    assert engine.discarded == [engine.started[1]]


async def test_a_launch_waits_for_the_container_already_starting(engine: Engine) -> None:
    pool = _pool(engine)
    engine.release.clear()
    pool.refill(KEY)
    taking = asyncio.create_task(pool.take(KEY))
    await asyncio.sleep(0.05)
    assert await pool.take(KEY) is None  # claimed by the first launch: a second one does not wait
    engine.release.set()
    await asyncio.sleep(0.05)
    assert not taking.done()
    engine.ready(engine.started[0])
    assert await asyncio.wait_for(taking, 1) is engine.started[0]
    await pool.close()


async def test_a_container_never_ready_in_time_leaves_the_launch_to_start_its_own(engine: Engine) -> None:
    pool = _pool(engine, wait=0.1)
    pool.refill(KEY)
    assert await pool.take(KEY) is None
    engine.ready(engine.started[0])
    assert await pool.take(KEY) is engine.started[0]  # still in the pool for the next launch
    await pool.close()


async def test_a_container_that_exits_before_use_rests_its_kind(engine: Engine) -> None:
    pool = _pool(engine)
    pool.refill(KEY)
    await asyncio.sleep(0)
    pool.ended(engine.started[0], "ImportError")
    assert engine.discarded == [engine.started[0]]
    assert await pool.take(KEY) is None
    pool.refill(KEY)
    await asyncio.sleep(0)
    assert len(engine.started) == 1  # not again for RETRY_AFTER
    await pool.close()


async def test_only_the_latest_kinds_keep_a_container(engine: Engine) -> None:
    pool = _pool(engine)
    keys = [
        PoolKey.of(f"berth-img:{i}", "/usr/bin/python3", Limits(), {})
        for i in range(docker_pool.MAX_KINDS + 1)
    ]
    for key in keys:
        pool.refill(key)
        await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert engine.discarded == [engine.started[0]]  # the least recently used kind
    await pool.close()
    assert len(engine.discarded) == len(keys)


async def test_a_pool_of_size_zero_starts_nothing(engine: Engine) -> None:
    pool = Pool(start=engine.start, discard=engine.discard, size=0)
    pool.refill(KEY)
    await asyncio.sleep(0)
    assert not engine.started and await pool.take(KEY) is None
