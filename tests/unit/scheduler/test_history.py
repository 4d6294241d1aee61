"""Kept versions: key names, pruning to the newest N (and the bundles only pruned versions used),
version states, which version a rollback picks, and the app store keeping all of it in KV."""

from __future__ import annotations

import pytest

from berth.v1 import spec_pb2, state_pb2
from services.scheduler import history
from services.scheduler.state import AppStore
from tests.unit.memory_kv import MemoryKV

KEY = "live.shop"


def record(version: int, bundle: str = "", *, ephemeral: bool = False) -> state_pb2.AppRecord:
    return state_pb2.AppRecord(
        spec=spec_pb2.AppSpec(name="shop"),
        version=version,
        bundle_id=bundle or f"b{version}",
        ephemeral=ephemeral,
        deployed_at_ms=1000 * version,
    )


def test_keys_round_trip_and_other_keys_are_not_history() -> None:
    assert history.key(KEY, 12) == "history.live.shop.12"
    assert history.parse_key("history.live.shop.12") == (KEY, 12)
    assert history.parse_key("history.dev.a-b.3") == ("dev.a-b", 3)
    for other in ("live.shop", "dev.history", "history.live.shop", "history.live.shop.x", "history..3"):
        assert history.parse_key(other) is None, other


def test_to_prune_keeps_the_newest() -> None:
    assert history.to_prune([3, 1, 2], keep=5) == []
    assert history.to_prune(range(1, 26), keep=20) == [1, 2, 3, 4, 5]
    assert history.to_prune([7, 9, 8], keep=2) == [7]
    assert history.to_prune([1, 2], keep=0) == [1], "the serving (newest) version always stays"


def test_unreferenced_bundles_spare_what_any_kept_version_uses() -> None:
    dropped = [record(1, "x"), record(2, "y"), record(3, "z")]
    kept = [record(4, "y"), record(5, "w")]
    assert history.unreferenced_bundles(dropped, kept) == {"x", "z"}
    assert history.unreferenced_bundles([record(1, "")], []) == {"b1"}


def test_state_of_a_version() -> None:
    entry = state_pb2.AppVersionRecord(record=record(2))
    assert history.state(entry, serving_version=2) == history.SERVING
    assert history.state(entry, serving_version=3) == history.REPLACED
    entry.stopped_at_ms = 5
    assert history.state(entry, serving_version=0) == history.STOPPED


def test_rollback_target() -> None:
    assert history.rollback_target("shop", [1, 2, 3], serving=3, requested=0) == 2
    assert history.rollback_target("shop", [1, 2, 3], serving=3, requested=1) == 1
    # After a rollback (v4 serving v1's code) "previous" is v3, the one it replaced.
    assert history.rollback_target("shop", [1, 2, 3, 4], serving=4, requested=0) == 3
    with pytest.raises(history.VersionNotFoundError, match=r"no version 9 \(kept: 1, 2, 3;"):
        history.rollback_target("shop", [1, 2, 3], serving=3, requested=9)
    with pytest.raises(history.RollbackError, match="already serving"):
        history.rollback_target("shop", [1, 2, 3], serving=3, requested=3)
    with pytest.raises(history.RollbackError, match="no earlier version"):
        history.rollback_target("shop", [1], serving=1, requested=0)


async def test_store_keeps_versions_prunes_past_the_limit_and_reloads() -> None:
    apps, routes = MemoryKV(), MemoryKV()
    store = AppStore(apps, routes, keep=3)  # type: ignore[arg-type]
    unused: set[str] = set()
    # Versions 1 and 4 share sources; so do 2 and 5.
    for version, bundle in ((1, "a"), (2, "b"), (3, "c"), (4, "a"), (5, "b")):
        assert store.next_version(KEY) == version
        unused |= await store.publish(KEY, record(version, bundle), [], deployed_by=f"t{version}")
    assert sorted(store.versions(KEY)) == [3, 4, 5]
    assert unused == set(), "the pruned versions' bundles are still used by kept ones"
    assert history.key(KEY, 1) not in apps.data and history.key(KEY, 3) in apps.data

    assert store.next_version(KEY) == 6
    assert await store.publish(KEY, record(6, "d"), [], rollback_of=3) == {"c"}

    again = AppStore(apps, routes, keep=3)  # type: ignore[arg-type]
    await again.load()
    kept = again.versions(KEY)
    assert sorted(kept) == [4, 5, 6] and kept[6].rollback_of == 3 and kept[5].deployed_by == "t5"
    assert again.get(KEY) is not None and again.next_version(KEY) == 7, "history keys are not apps"


async def test_store_marks_the_stopped_version_and_skips_served_apps() -> None:
    apps, routes = MemoryKV(), MemoryKV()
    store = AppStore(apps, routes)  # type: ignore[arg-type]
    await store.publish(KEY, record(store.next_version(KEY)), [])
    assert await store.publish("dev.shop", record(1, ephemeral=True), []) == set()
    assert store.versions("dev.shop") == {}, "`berth serve` versions are not kept"
    await store.remove(KEY)
    assert store.versions(KEY)[1].stopped_at_ms > 0
    reloaded = AppStore(apps, routes)  # type: ignore[arg-type]
    await reloaded.load()
    assert reloaded.get(KEY) is None and reloaded.versions(KEY)[1].stopped_at_ms > 0


async def test_apps_deployed_before_history_start_it_at_load() -> None:
    apps, routes = MemoryKV(), MemoryKV()
    await apps.put(KEY, record(4).SerializeToString())
    store = AppStore(apps, routes)  # type: ignore[arg-type]
    await store.load()
    assert list(store.versions(KEY)) == [4] and store.versions(KEY)[4].deployed_by == ""
    assert history.key(KEY, 4) in apps.data
