"""`host:port` parsing shared by the agent's egress openings and the builder's CONNECT proxy."""

from __future__ import annotations

import pytest

from services.common.hostport import split_host_port


@pytest.mark.parametrize(
    "text, expected",
    [
        ("127.0.0.1:8000", ("127.0.0.1", 8000)),
        ("Files.PythonHosted.org:443", ("files.pythonhosted.org", 443)),
        ("[::1]:8000", ("::1", 8000)),
        ("localhost:0", ("localhost", 0)),
    ],
)
def test_host_and_port(text: str, expected: tuple[str, int]) -> None:
    assert split_host_port(text) == expected


@pytest.mark.parametrize(
    "text", ["", "example.org", ":443", "example.org:", "h:99999", "h:x", "[::1:80", "::1"]
)
def test_not_host_port(text: str) -> None:
    assert split_host_port(text) is None
