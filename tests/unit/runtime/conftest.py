from collections.abc import AsyncIterator

import pytest
from runner_harness import FakeAgent


@pytest.fixture
async def agent() -> AsyncIterator[FakeAgent]:
    fake = FakeAgent()
    try:
        yield fake
    finally:
        await fake.close()
