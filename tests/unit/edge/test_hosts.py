"""Host headers: exactly one, well formed (400 otherwise), and an app label only if a deploy could
have produced it (404 without a lookup otherwise)."""

import pytest

from services.edge.hosts import BadHost, host_header, parse, request_host
from services.scheduler.urls import host_label


def headers(*hosts: bytes) -> list[tuple[bytes, bytes]]:
    return [(b"accept", b"*/*"), *((b"host", h) for h in hosts), (b"user-agent", b"t")]


def test_the_one_host_header_is_found() -> None:
    assert host_header(headers(b"local--hello-f.localhost:8000")) == "local--hello-f.localhost:8000"


@pytest.mark.parametrize("hosts", [(), (b"a.localhost", b"b.localhost"), (b"x", b"x")])
def test_missing_or_repeated_host_is_refused(hosts: tuple[bytes, ...]) -> None:
    with pytest.raises(BadHost):
        host_header(headers(*hosts))


@pytest.mark.parametrize(
    "text, label, workspace",
    [
        ("ws--app-fn.berth.localhost", "ws--app-fn", "ws"),
        ("ws--app-fn.berth.localhost:8080", "ws--app-fn", "ws"),
        ("WS--App-Fn.Berth.Localhost:80", "ws--app-fn", "ws"),
        ("my-team--app-fn-dev.example.com.", "my-team--app-fn-dev", "my-team"),
        ("localhost:8000", "localhost", ""),
        ("127.0.0.1:8000", "127", ""),
        ("[::1]:8000", "", ""),
        ("[::1]", "", ""),
    ],
)
def test_well_formed_hosts(text: str, label: str, workspace: str) -> None:
    host = parse(text)
    assert (host.label, host.workspace, host.possible) == (label, workspace, True)
    assert host.is_app == bool(workspace)


@pytest.mark.parametrize(
    "text",
    [
        "a--b!.localhost",
        "a--*.localhost",
        "",
        "a b.localhost",
        "a_b--c.localhost",
        "x.localhost:port",
        "x.localhost:123456",
        "x..localhost",
        "a" * 64 + ".localhost",
        "x.localhost/path",
        "user@x.localhost",
        "[::1",
        "é--app.localhost",
        ("a." * 130) + "localhost",
    ],
)
def test_malformed_hosts_are_bad(text: str) -> None:
    with pytest.raises(BadHost):
        parse(text)


@pytest.mark.parametrize("text", ["--app.localhost", "ws--.localhost", "-ws--app.localhost"])
def test_app_labels_no_deploy_can_make_are_impossible(text: str) -> None:
    host = parse(text)
    assert host.is_app and not host.possible


@pytest.mark.parametrize(
    "args",
    [
        {"workspace": "local", "app": "hello", "function": "f"},
        {"workspace": "Team_A", "app": "My_App", "function": "square"},
        {"workspace": "ws", "app": "a", "function": "f", "label": "Hello_World", "ephemeral": True},
        {"workspace": "ws", "app": "app", "function": "x" * 80},
        {"workspace": "ws", "app": "a" * 55, "function": "b" * 30, "ephemeral": True},
        {"workspace": "ws", "app": "a", "function": "_"},
    ],
)
def test_every_label_a_deploy_makes_is_possible(args: dict[str, object]) -> None:
    label = host_label(**args)  # type: ignore[arg-type]
    host = request_host(headers(f"{label}.localhost:8000".encode()))
    assert host.possible and host.label == label
