"""`berth app history|rollback` and `berth container list`: version arguments, ages, rows."""

from __future__ import annotations

import json

import pytest

from berth._errors import InvalidError
from berth.cli.containers import container_rows, container_table, format_age
from berth.cli.history import history_rows, history_table, parse_version
from berth.v1 import control_pb2


@pytest.mark.parametrize("text, expected", [("3", 3), ("v3", 3), ("V12", 12), (" 7 ", 7)])
def test_versions_as_history_prints_them(text: str, expected: int) -> None:
    assert parse_version(text) == expected


@pytest.mark.parametrize("text", ["", "v", "0", "v0", "-1", "latest", "3.1"])
def test_other_versions_are_refused(text: str) -> None:
    with pytest.raises(InvalidError, match="not a version number"):
        parse_version(text)


@pytest.mark.parametrize(
    "ms, shown",
    [
        (0, "-"),
        (999, "0s"),
        (45_000, "45s"),
        (192_000, "3m12s"),
        (7_500_000, "2h05m"),
        (100_800_000, "1d04h"),
    ],
)
def test_age(ms: int, shown: str) -> None:
    assert format_age(ms) == shown


def test_history_rows_and_table() -> None:
    versions = [
        control_pb2.AppVersion(
            version=3,
            deployed_at_ms=1_700_000_000_000,
            state="serving",
            deployed_by="ci",
            images={"f": "a" * 64, "g": "a" * 64},
            bundle_id="b1",
            rollback_of=1,
        ),
        control_pb2.AppVersion(version=1, state="replaced", images={"f": "a" * 64}, bundle_id="b1"),
    ]
    rows = history_rows(versions)
    json.dumps(rows)
    assert rows[0] == {
        "version": 3,
        "deployed": "2023-11-14T22:13:20+00:00",
        "state": "serving",
        "by": "ci",
        "images": {"f": "a" * 64, "g": "a" * 64},
        "bundle": "b1",
        "rollback_of": 1,
    }
    assert rows[1]["by"] is None and rows[1]["rollback_of"] is None and rows[1]["deployed"] is None
    table = history_table(versions)
    assert table[0].split() == ["VERSION", "DEPLOYED", "STATE", "BY", "IMAGE", "NOTE"]
    assert table[1].split() == [
        "v3",
        "2023-11-14T22:13:20+00:00",
        "serving",
        "ci",
        "aaaaaaaaaaaa",
        "rollback",
        "to",
        "v1",
    ]
    assert table[1].count("aaaaaaaaaaaa") == 1, "one image shared by two functions is shown once"
    assert table[2].split()[:5] == ["v1", "-", "replaced", "-", "aaaaaaaaaaaa"]


def test_container_rows_and_table() -> None:
    found = [
        control_pb2.ContainerSummary(
            container_id="c0123456789ab",
            app="shop",
            ephemeral=True,
            function="Model.run",
            version=2,
            parameters="size=2",
            state="ready",
            inflight=1,
            max_inputs=4,
            age_ms=61_000,
            agent_id="a1",
        )
    ]
    (row,) = container_rows(found)
    assert row == {
        "id": "c0123456789ab",
        "app": "shop",
        "dev": True,
        "function": "Model.run",
        "version": 2,
        "parameters": "size=2",
        "state": "ready",
        "inflight": 1,
        "max_inputs": 4,
        "age_seconds": 61.0,
        "agent": "a1",
    }
    header, line = container_table(found)
    assert header.split() == [
        "ID",
        "APP",
        "FUNCTION",
        "VERSION",
        "PARAMETERS",
        "STATE",
        "INPUTS",
        "AGE",
        "AGENT",
    ]
    assert line.split() == [
        "c0123456789ab",
        "shop",
        "(dev)",
        "Model.run",
        "v2",
        "size=2",
        "ready",
        "1/4",
        "1m01s",
        "a1",
    ]
