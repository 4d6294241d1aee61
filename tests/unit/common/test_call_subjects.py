"""The subjects of calls containers make: only an agent may speak for its containers, and the
subjects an edge and an agent exchange are parsed exactly (services/common/ids.py)."""

from __future__ import annotations

import pytest

from services.common import credentials, ids, permissions, subjects


def test_an_agent_publishes_calls_only_as_itself_and_hears_only_its_answers() -> None:
    agent = permissions.for_identity(credentials.AGENT_PREFIX + "a1")
    assert subjects.agent_calls("a1") in agent.publish
    assert f"{subjects.agent_calls('a1')}.>" in agent.publish
    assert not any("berth.call.*" in s or s == "berth.call.>" for s in agent.publish)
    assert subjects.caller_reply_wildcard("a1") in agent.subscribe
    edge = permissions.for_identity(credentials.EDGE)
    assert subjects.AGENT_CALLS_WILDCARD in edge.subscribe
    assert subjects.call_stream_wildcard("*") in edge.subscribe
    assert subjects.caller_reply_wildcard("*") in edge.publish


def test_subjects_round_trip() -> None:
    reply = subjects.caller_reply("a1", "c0123456789ab", 1 << 63)
    assert ids.caller_reply_subject(reply, "a1") == ("c0123456789ab", 1 << 63)
    stream = subjects.call_stream("a1", "edge-1", 42)
    assert ids.call_stream_subject(stream, "a1") == stream


@pytest.mark.parametrize(
    "subject",
    [
        "berth.caller.a2.c0123456789ab.1",  # another agent's
        "berth.caller.a1.c0123456789ab",
        "berth.caller.a1.not-a-container.1",
        "berth.caller.a1.c0123456789ab.x",
        "berth.resp.e.1",
        "",
    ],
)
def test_a_reply_subject_not_of_this_agent_is_refused(subject: str) -> None:
    with pytest.raises(ids.InvalidId):
        ids.caller_reply_subject(subject, "a1")


@pytest.mark.parametrize(
    "subject", ["berth.call.a2.e.1", "berth.call.a1.e", "berth.call.a1.*.1", "berth.call.a1.e.>", ""]
)
def test_an_edge_subject_naming_another_agent_is_refused(subject: str) -> None:
    with pytest.raises(ids.InvalidId):
        ids.call_stream_subject(subject, "a1")
