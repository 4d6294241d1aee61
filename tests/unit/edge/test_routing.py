"""The route key of a request: the first DNS label of its Host header."""

import pytest

from services.edge.routing import host_label


@pytest.mark.parametrize(
    "host, expected",
    [
        ("ws--app-fn.berth.localhost", "ws--app-fn"),
        ("ws--app-fn.berth.localhost:8080", "ws--app-fn"),
        ("WS--App-Fn.Berth.Localhost:80", "ws--app-fn"),
        ("single", "single"),
        ("single:9000", "single"),
        ("", ""),
    ],
)
def test_host_label(host: str, expected: str) -> None:
    assert host_label(host) == expected


def test_ipv6_literal_without_port_is_kept_whole() -> None:
    assert host_label("[::1]") == "[::1]"
