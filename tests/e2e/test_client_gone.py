"""A client that goes away mid-request frees its container slot at once (the edge stops waiting
for an answer nobody will read), so the next request is served instead of queueing behind it
until the function's timeout."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Platform, direct

APP = Path(__file__).parent / "apps" / "one_slot.py"

pytestmark = pytest.mark.xdist_group("client-gone")


def test_a_client_leaving_gives_its_slot_back(platform: Platform) -> None:
    url = platform.deploy(APP)["web"]
    try:
        target, host = direct(url, "/")
        assert httpx.get(target, headers={"host": host}, timeout=60).text == "ok"  # warm
        slow, _ = direct(url, "/slow")
        with pytest.raises(httpx.ReadTimeout):
            httpx.get(slow, headers={"host": host}, timeout=httpx.Timeout(60, read=1.0))
        # The only slot is held by /slow for 60 s unless the edge let go when its client left;
        # this request's 30 s budget is well inside that.
        response = httpx.get(target, headers={"host": host}, timeout=30)
        assert response.status_code == 200 and response.text == "ok"
    finally:
        platform.berth("app", "stop", "one-slot", timeout=60)
