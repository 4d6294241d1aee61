"""The rollout's decisions (services/scheduler/rollout.py): which pools of a new version to warm and
to how many containers, and when traffic may move, with time passed in."""

from berth.v1 import bus_pb2, spec_pb2, state_pb2
from services.scheduler import rollout
from services.scheduler.pools import ContainerRecord, Pool, State
from services.scheduler.rollout import Phase, Target, Warming

NOW = 1000.0
WEB = spec_pb2.WebSpec(kind=spec_pb2.WEB_KIND_FASTAPI_ENDPOINT)


def function(name: str = "f", *, web: bool = True, **parameters: str) -> spec_pb2.FunctionSpec:
    spec = spec_pb2.FunctionSpec(name=name)
    if web:
        spec.web.CopyFrom(WEB)
    for pname, default in parameters.items():
        spec.parameters.add(name=pname, type=spec_pb2.PARAM_TYPE_STR, default=default, has_default=True)
    return spec


def record(version: int, *functions: spec_pb2.FunctionSpec) -> state_pb2.AppRecord:
    return state_pb2.AppRecord(spec=spec_pb2.AppSpec(name="a", functions=functions), version=version)


def pool(version: int, *states: State, name: str = "f", params: str = "", retired: bool = False) -> Pool:
    made = Pool(
        key=bus_pb2.PoolKey(app="live.a", function=name, version=version, params=params),
        function=function(name),
        retired=retired,
    )
    for i, state in enumerate(states):
        made.containers[f"c{version}{name}{i}"] = ContainerRecord(
            f"c{version}{name}{i}", "agent", state=state
        )
    return made


def key(version: int, name: str = "f", params: str = "") -> bus_pb2.PoolKey:
    return bus_pb2.PoolKey(app="live.a", function=name, version=version, params=params)


def test_each_warm_pool_of_the_serving_version_gets_a_twin_with_as_many_ready() -> None:
    old = [pool(1, State.READY, State.READY, State.DRAINING, State.BOOTING), pool(1, State.READY, name="g")]
    assert rollout.targets(old, 1, record(2, function("f"), function("g"))) == [
        Target(key(2), 2),
        Target(key(2, "g"), 1),
    ]


def test_nothing_warm_means_nothing_to_wait_for() -> None:
    old = [pool(1, State.BOOTING), pool(1, State.DRAINING, name="g"), pool(1)]
    assert rollout.targets(old, 1, record(2, function("f"), function("g"))) == []


def test_retired_and_older_pools_and_dropped_functions_are_not_warmed() -> None:
    old = [
        pool(1, State.READY, retired=True),
        pool(0, State.READY),
        pool(1, State.READY, name="gone"),
    ]
    assert rollout.targets(old, 1, record(2, function("f"))) == []


def test_functions_without_a_web_decorator_are_warmed_too() -> None:
    # They are callable (`.remote`), so their warm containers matter as much as web ones'.
    old = [pool(1, State.READY, name="no_web")]
    new = record(2, function("f"), function("no_web", web=False))
    assert rollout.targets(old, 1, new) == [Target(key(2, "no_web"), 1)]


def test_a_parameter_set_the_new_version_still_accepts_is_warmed_as_is() -> None:
    old = [pool(1, State.READY, params="size=small"), pool(1, State.READY, params="size=big")]
    new = record(2, function("f", size="small"))
    assert rollout.targets(old, 1, new) == [
        Target(key(2, params="size=big"), 1),
        Target(key(2, params="size=small"), 1),
    ]
    # A renamed parameter makes the old sets meaningless: nothing to warm for them.
    assert rollout.targets(old, 1, record(2, function("f", colour="red"))) == []


def warming(count: int, ready: int, booting: int = 0, failure: str = "") -> Warming:
    return Warming(Target(key(2), count), ready=ready, booting=booting, failure=failure)


def test_traffic_moves_only_once_every_twin_is_ready() -> None:
    deadline = NOW + 60
    assert rollout.judge([warming(2, 1, 1)], now=NOW, deadline=deadline).phase is Phase.WAIT
    assert rollout.judge([warming(2, 2), warming(1, 0, 1)], now=NOW, deadline=deadline).phase is Phase.WAIT
    assert rollout.judge([warming(2, 2), warming(1, 1)], now=NOW, deadline=deadline).phase is Phase.MOVE


def test_fewer_placed_than_wanted_moves_once_those_are_ready() -> None:
    # The agents had room for one of two: waiting for the second would wait for the old to drain.
    assert rollout.judge([warming(2, 1, 0)], now=NOW, deadline=NOW + 60).phase is Phase.MOVE


def test_a_boot_failure_fails_the_rollout_at_once_with_its_reason() -> None:
    verdict = rollout.judge(
        [warming(2, 1, 0, failure="f: ImportError: no module x")], now=NOW, deadline=NOW + 60
    )
    assert verdict == rollout.Verdict(Phase.FAIL, "f: ImportError: no module x")


def test_past_the_deadline_the_rollout_fails_saying_how_far_it_got() -> None:
    verdict = rollout.judge([warming(3, 1, 2)], now=NOW + 61, deadline=NOW + 60)
    assert verdict == rollout.Verdict(Phase.FAIL, "only 1 of 3 containers were ready in time")
    assert rollout.judge([warming(3, 0, 0)], now=NOW, deadline=NOW + 60).phase is Phase.WAIT


def test_the_deadline_is_the_slowest_functions_startup_budget_plus_margins() -> None:
    slow = function("slow")
    slow.scaling.startup_timeout = 120
    slow.web.kind = spec_pb2.WEB_KIND_WEB_SERVER  # its wait for the port counts on top
    slow.web.startup_timeout = 30
    budget = rollout.budget(record(2, function("f"), slow))
    assert budget == 300 + rollout.BOOT_MARGIN + rollout.DEADLINE_SLACK  # f: its timeout, 300 s by default
    slow.scaling.timeout = 10
    assert rollout.budget(record(2, slow)) == 150 + rollout.BOOT_MARGIN + rollout.DEADLINE_SLACK


def test_the_failure_message_says_the_old_version_serves_on() -> None:
    message = rollout.failed_message(3, 2, "f: boom")
    assert message.startswith("version 3 did not start") and message.endswith("version 2 keeps serving")
