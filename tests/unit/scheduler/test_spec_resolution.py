"""App records keep resolved scaling values (berth._spec_rules): records stored before deploys
resolved them are resolved when the scheduler reads them back."""

from __future__ import annotations

from berth.v1 import spec_pb2, state_pb2
from services.scheduler.state import AppStore
from tests.unit.memory_kv import MemoryKV


def web() -> spec_pb2.FunctionSpec:
    return spec_pb2.FunctionSpec(name="f", web=spec_pb2.WebSpec(kind=spec_pb2.WEB_KIND_FASTAPI_ENDPOINT))


async def test_records_stored_before_resolution_are_resolved_when_read() -> None:
    old = state_pb2.AppRecord(
        spec=spec_pb2.AppSpec(name="shop", functions=[web()]), version=3, bundle_id="b3"
    )
    apps, routes = MemoryKV(), MemoryKV()
    await apps.put("live.shop", old.SerializeToString())
    store = AppStore(apps, routes)  # type: ignore[arg-type]
    await store.load()
    record = store.get("live.shop")
    assert record is not None
    assert record.spec.functions[0].scaling.timeout == 300
    assert record.spec.functions[0].scaling.scaledown_window == 60
    assert record.spec.functions[0].scaling.max_inputs == 1
    kept = store.versions("live.shop")[3].record  # the rollback copy too
    assert kept.spec.functions[0].scaling.timeout == 300
