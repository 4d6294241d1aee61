"""Host names for web functions: normalising, the 63-character DNS limit, and URLs."""

import hashlib

import pytest

from services.scheduler.urls import MAX_LABEL, host_label, normalize, shorten, url


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Hello", "hello"),
        ("my_app", "my-app"),
        ("a  b", "a-b"),
        ("a--b", "a-b"),
        ("a_-_b", "a-b"),
        ("-edge-", "edge"),
        ("Café.v2", "caf-v2"),
        ("already-fine-123", "already-fine-123"),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_normalize_never_leaves_a_double_dash() -> None:
    assert "--" not in normalize("a__--..!!b")


def test_host_label_joins_workspace_app_and_function() -> None:
    assert host_label(workspace="Team", app="My_App", function="square") == "team--my-app-square"


def test_label_overrides_app_and_function() -> None:
    assert host_label(workspace="ws", app="app", function="fn", label="Hello_World") == "ws--hello-world"


def test_ephemeral_adds_dev_suffix() -> None:
    assert host_label(workspace="ws", app="app", function="fn", ephemeral=True) == "ws--app-fn-dev"
    assert host_label(workspace="ws", app="a", function="f", label="x", ephemeral=True) == "ws--x-dev"


def test_label_of_exactly_63_characters_is_kept() -> None:
    label = "w--" + "a" * 60
    assert len(label) == MAX_LABEL
    assert shorten(label) == label


def test_long_label_keeps_56_characters_a_dash_and_a_hash() -> None:
    function = "f" * 80
    full = f"ws--app-{function}"
    result = host_label(workspace="ws", app="app", function=function)
    digest = hashlib.sha256(full.encode()).hexdigest()[:6]
    assert result == f"{full[:56]}-{digest}"
    assert len(result) == MAX_LABEL


@pytest.mark.parametrize("length", [64, 100, 500])
def test_shortened_label_fits_dns(length: int) -> None:
    result = host_label(workspace="w", app="a", function="x" * length, ephemeral=True)
    assert len(result) <= MAX_LABEL


def test_shortening_is_deterministic() -> None:
    args = {"workspace": "ws", "app": "app", "function": "g" * 90}
    assert host_label(**args) == host_label(**args)


def test_long_labels_with_a_common_prefix_stay_distinct() -> None:
    base = "x" * 70
    labels = {host_label(workspace="ws", app="app", function=base + tail) for tail in ("a", "b", "c")}
    labels.add(host_label(workspace="ws", app="app", function=base + "a", ephemeral=True))
    assert len(labels) == 4
    assert all(len(label) <= MAX_LABEL for label in labels)


@pytest.mark.parametrize(
    "port, scheme, expected",
    [
        (80, "http", "http://ws--a-f.berth.localhost/"),
        (8080, "http", "http://ws--a-f.berth.localhost:8080/"),
        (443, "https", "https://ws--a-f.berth.localhost/"),
        (443, "http", "http://ws--a-f.berth.localhost:443/"),
        (80, "https", "https://ws--a-f.berth.localhost:80/"),
    ],
)
def test_url_omits_the_default_port(port: int, scheme: str, expected: str) -> None:
    assert url("ws--a-f", domain="berth.localhost", port=port, scheme=scheme) == expected
