"""Where containers go (cpu/memory requests, free slots) and how edges split a container's slots."""

from berth.v1 import spec_pb2
from services.scheduler.placement import (
    Request,
    Room,
    choose,
    fair_offer,
    fits,
    never_fits,
    request_of,
    take_back,
    too_big,
)


def test_spreads_over_the_agent_with_the_most_free_slots() -> None:
    rooms = [Room("a", 4, containers=1), Room("b", 4, containers=0), Room("c", 4, containers=2)]
    assert choose(rooms, Request()) == "b"


def test_ties_go_to_the_most_free_memory_then_the_id() -> None:
    rooms = [Room("b", 4, memory_mib=1000), Room("a", 4, memory_mib=1000), Room("c", 4, memory_mib=2000)]
    assert choose(rooms, Request()) == "c"
    assert choose(rooms[:2], Request()) == "a"


def test_a_full_agent_is_skipped_and_none_when_all_are_full() -> None:
    rooms = [Room("a", 1, containers=1), Room("b", 2, containers=1)]
    assert choose(rooms, Request()) == "b"
    assert choose([Room("a", 1, containers=1)], Request()) is None
    assert choose([], Request()) is None


def test_cpu_and_memory_requests_go_where_they_fit() -> None:
    small = Room("small", 10, cpu=2, memory_mib=1024, containers=0)
    big = Room("big", 10, cpu=8, memory_mib=8192, containers=3, cpu_used=3, memory_used_mib=3072)
    # The small agent has more free slots, but not the room for this container.
    assert choose([small, big], Request(cpu=4)) == "big"
    assert choose([small, big], Request(memory_mib=2048)) == "big"
    assert choose([small, big], Request(cpu=1, memory_mib=512)) == "small"
    assert choose([small, big], Request(cpu=6)) is None


def test_what_is_placed_counts_against_what_an_agent_offers() -> None:
    room = Room("a", 10, cpu=1.0, memory_mib=100, cpu_used=0.3, memory_used_mib=60)
    assert fits(room, Request(cpu=0.7, memory_mib=40))  # exactly full is still a fit
    assert not fits(room, Request(cpu=0.8))
    assert not fits(room, Request(memory_mib=41))


def test_an_agent_that_reports_no_cpu_or_memory_counts_only_slots() -> None:
    assert fits(Room("a", 1), Request(cpu=64, memory_mib=1 << 20))
    assert not fits(Room("a", 1, containers=1), Request())


def test_never_fits_only_when_no_agent_could_take_it_even_empty() -> None:
    rooms = [Room("a", 1, cpu=2, memory_mib=512, containers=1, cpu_used=2, memory_used_mib=512)]
    assert not never_fits(rooms, Request(cpu=2))  # full now, but it fits once the agent empties
    assert never_fits(rooms, Request(cpu=3))
    assert never_fits(rooms, Request(memory_mib=513))
    assert not never_fits([], Request(cpu=3))  # no agent at all is another failure
    assert too_big(Request(cpu=3, memory_mib=513)) == (
        "no agent is large enough for this function's containers (cpu=3, memory=513): "
        "lower the request or add a larger agent"
    )


def test_request_of_a_function() -> None:
    function = spec_pb2.FunctionSpec(scaling=spec_pb2.ScalingSpec(cpu=1.5, memory_mib=256))
    assert request_of(function) == Request(cpu=1.5, memory_mib=256)
    assert request_of(spec_pb2.FunctionSpec()) == Request()


def test_a_freed_container_goes_to_the_waiting_edge_holding_fewest() -> None:
    assert fair_offer({"e1": 9, "e2": 1}, {"e1": 2}) == "e2"
    assert fair_offer({"e1": 9, "e2": 1}, {}) == "e1"  # same holdings: the longest queue
    assert fair_offer({"e2": 3, "e1": 3}, {}) == "e1"
    assert fair_offer({"e1": 0}, {}) is None


def test_an_edge_queueing_with_nothing_takes_from_the_edge_holding_the_most() -> None:
    # One container, two edges queueing: it alternates rather than stay with the first.
    assert take_back({"e1": 5, "e2": 5}, {"e1": 1}) == ("e1", "e2")
    assert take_back({"e1": 5, "e2": 5}, {"e2": 1}) == ("e2", "e1")
    assert take_back({"e1": 5, "e2": 1, "e3": 4}, {"e1": 3, "e2": 1}) == ("e1", "e3")


def test_holdings_even_out_only_by_whole_containers() -> None:
    assert take_back({"e1": 5, "e2": 5}, {"e1": 3, "e2": 1}) == ("e1", "e2")
    assert take_back({"e1": 5, "e2": 5}, {"e1": 2, "e2": 1}) is None  # as even as it gets
    assert take_back({"e1": 5, "e2": 0}, {"e1": 3}) is None  # e2 wants nothing
    assert take_back({"e1": 5}, {"e1": 3}) is None  # nobody else queues
    assert take_back({"e1": 5, "e2": 5}, {}) is None  # nothing held to give
