"""Call route keys (services/common/call_routes.py): what the scheduler writes is what the edge
looks up, and every key is one JetStream KV accepts."""

from __future__ import annotations

import re

import pytest

from berth.v1 import spec_pb2
from services.common import call_routes, ids
from services.common.subjects import app_key
from services.scheduler import spec_checks
from services.scheduler.state import record_hosts

# JetStream's rule for KV keys (nats-server: keyValid / the clients' VALID_KEY_RE).
KV_KEY = re.compile(r"[-/_=.a-zA-Z0-9]+")


@pytest.mark.parametrize(
    ("app", "function", "dev", "key"),
    [
        ("shop", "f", False, "_call.live.shop.f"),
        ("shop", "Model.predict", True, "_call.dev.shop.Model.predict"),
        ("my-app2", "_private_1", False, "_call.live.my-app2._private_1"),
    ],
)
def test_the_edge_finds_what_the_scheduler_writes(app: str, function: str, dev: bool, key: str) -> None:
    written = call_routes.key(app_key(app, dev), function)
    assert written == key == call_routes.key_for(app, function, dev)
    assert KV_KEY.fullmatch(written) and not written.endswith(".") and ".." not in written
    assert ids.app_key(app_key(app, dev))
    assert call_routes.is_call_key(written)


@pytest.mark.parametrize(
    ("app", "function"),
    [
        ("Shop", "f"),  # not normalized: no deploy writes it
        ("", "f"),
        ("a" * 65, "f"),
        ("shop", ""),
        ("shop", "café"),
        ("shop", "a.b.c"),
        ("shop", "f>"),
        ("shop", "*"),
        ("shop", "Model."),
        ("shop", "1f"),
    ],
)
def test_names_no_deploy_could_have_are_not_looked_up(app: str, function: str) -> None:
    assert call_routes.key_for(app, function, False) is None


def test_host_labels_and_domains_never_look_like_call_keys() -> None:
    # Labels hold [a-z0-9-] and domains dots between such labels: never an underscore.
    assert not call_routes.is_call_key("ws--shop-f")
    assert not call_routes.is_call_key("api.example.com")


def test_a_deploy_refuses_a_function_name_a_call_cannot_name() -> None:
    spec = spec_pb2.AppSpec(name="shop", functions=[spec_pb2.FunctionSpec(name="café")])
    with pytest.raises(spec_checks.SpecError, match="ASCII Python identifier"):
        spec_checks.check(spec, runtime="process")


def test_plain_functions_are_deployable_and_their_routes_are_removed_with_the_app() -> None:
    spec = spec_pb2.AppSpec(
        name="shop",
        functions=[spec_pb2.FunctionSpec(name="f"), spec_pb2.FunctionSpec(name="Model.predict")],
    )
    spec_checks.check(spec, runtime="process")  # no web decorator is no reason to refuse
    from berth.v1 import state_pb2

    record = state_pb2.AppRecord(spec=spec, ephemeral=True)
    assert set(record_hosts(record)) == {"_call.dev.shop.f", "_call.dev.shop.Model.predict"}
