"""custom_domains is checked when the app file is imported (the one DNS rule in berth._domains), and
options Berth would otherwise accept and ignore are refused there with a message saying what to do."""

from __future__ import annotations

import pytest

import berth
from berth._domains import DomainError, normalize_domain


@pytest.mark.parametrize(
    "text, expected",
    [
        ("api.example.com", "api.example.com"),
        ("API.Example.COM.", "api.example.com"),
        ("  a-b.c0.io ", "a-b.c0.io"),
        ("x.y--z.example", "x.y--z.example"),
    ],
)
def test_domains_are_normalized(text: str, expected: str) -> None:
    assert normalize_domain(text) == expected


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "not a domain name"),
        ("localhost", "with a dot"),
        ("*.example.com", "letters, digits or dashes"),
        ("api.example.com:8000", "letters, digits or dashes"),
        ("https://api.example.com", "letters, digits or dashes"),
        ("-api.example.com", "not starting or ending with a dash"),
        ("a..example.com", "letters, digits or dashes"),
        ("10.0.0.1", "IP address"),
        ("ws--app.example.com", "first label may not contain"),
        ("a" * 64 + ".com", "1-63"),
        (".".join(["abcdefgh"] * 30) + ".com", "longer than 253"),
        (42, "not a domain name"),
    ],
)
def test_what_cannot_be_a_domain_says_why(text: object, reason: str) -> None:
    with pytest.raises(DomainError, match=reason):
        normalize_domain(text)


def test_decorators_keep_domains_lowercased() -> None:
    @berth.fastapi_endpoint(custom_domains=["API.Example.com"])
    def f() -> None: ...

    @berth.asgi_app(custom_domains=("a.example.org",))
    def g() -> None: ...

    assert f.__berth_web__.to_spec().custom_domains == ["api.example.com"]  # type: ignore[attr-defined]
    assert list(g.__berth_web__.custom_domains) == ["a.example.org"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "domains, message",
    [
        (["localhost"], r"custom_domains=...\): 'localhost' is not a domain name with a dot"),
        (["a.example.com", "A.example.com"], "names 'a.example.com' twice"),
        ("api.example.com", "takes a list of domains"),
    ],
)
def test_bad_custom_domains_are_refused_at_import(domains: object, message: str) -> None:
    with pytest.raises(berth.InvalidError, match=message):
        berth.web_server(8000, custom_domains=domains)  # type: ignore[arg-type]


def test_buffer_containers_is_checked_and_accepted() -> None:
    app = berth.App("x")
    app.function(buffer_containers=2)
    app.cls(buffer_containers=1)
    with pytest.raises(berth.InvalidError, match=r"buffer_containers=-1\): must be an int >= 0"):
        app.function(buffer_containers=-1)
