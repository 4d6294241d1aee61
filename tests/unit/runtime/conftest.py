from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from runner_harness import FakeAgent

APPS = Path(__file__).parent / "apps"
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


@pytest.fixture
async def agent() -> AsyncIterator[FakeAgent]:
    fake = FakeAgent()
    try:
        yield fake
    finally:
        await fake.close()
