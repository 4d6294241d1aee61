"""What a deploy is refused for before anything is built: options this platform would otherwise
ignore, and custom domains that cannot be routed (checked again here for specs sent straight to the
API, which the SDK never saw)."""

from __future__ import annotations

import pytest

from berth.v1 import spec_pb2
from services.scheduler import spec_checks, urls
from services.scheduler.spec_checks import SpecError, UnsupportedHere

WEB = spec_pb2.WEB_KIND_FASTAPI_ENDPOINT


def function(
    name: str = "f", *, kind: int = WEB, domains: tuple[str, ...] = (), **scaling: float
) -> spec_pb2.FunctionSpec:
    return spec_pb2.FunctionSpec(
        name=name,
        web=spec_pb2.WebSpec(kind=kind, custom_domains=domains),  # type: ignore[arg-type]
        scaling=spec_pb2.ScalingSpec(**scaling),  # type: ignore[arg-type]
    )


def app(*functions: spec_pb2.FunctionSpec) -> spec_pb2.AppSpec:
    return spec_pb2.AppSpec(name="a", functions=functions)


def test_buffer_containers_is_accepted_now_that_the_scheduler_keeps_them() -> None:
    spec_checks.check(app(function(buffer_containers=1)), runtime="process")


@pytest.mark.parametrize("limit", [{"cpu": 0.5}, {"memory_mib": 256}])
def test_cpu_and_memory_need_a_runtime_that_enforces_them(limit: dict[str, float]) -> None:
    with pytest.raises(UnsupportedHere, match="only the Docker runtime enforces.*BERTH_RUNTIME=docker"):
        spec_checks.check(app(function(**limit)), runtime="process")
    spec_checks.check(app(function(**limit)), runtime="docker")


def test_functions_without_a_web_decorator_are_named_in_the_output() -> None:
    spec = app(function("helper", kind=spec_pb2.WEB_KIND_UNSPECIFIED), function())
    spec_checks.check(spec, runtime="process")
    [note] = spec_checks.notes(spec, ephemeral=False)
    assert "'helper' has no web decorator: it gets no URL; call it with .remote()" in note


def test_functions_without_a_web_decorator_get_containers_so_their_limits_are_checked() -> None:
    spec = app(function("helper", kind=spec_pb2.WEB_KIND_UNSPECIFIED, cpu=1.0), function())
    with pytest.raises(UnsupportedHere, match="'helper'"):
        spec_checks.check(spec, runtime="process")


def test_serve_says_it_leaves_custom_domains_to_deploy() -> None:
    spec = app(function(domains=("api.example.com",)))
    assert spec_checks.notes(spec, ephemeral=False) == []
    [note] = spec_checks.notes(spec, ephemeral=True)
    assert "`berth serve` does not claim custom domains (api.example.com)" in note


def test_custom_domains_are_normalized_per_function() -> None:
    spec = app(function("f", domains=("API.example.com.", "b.example.org")), function("g"))
    assert spec_checks.custom_domains(spec, base_domain="berth.example.net") == {
        "f": ["api.example.com", "b.example.org"]
    }


@pytest.mark.parametrize(
    "functions, message",
    [
        ((function(domains=("localhost",)),), "custom domain 'localhost' is not a domain name"),
        ((function(domains=("x.localhost",)),), "under the platform's own domain 'localhost'"),
        ((function(domains=("localhost.",)),), "not a domain name"),
        (
            (function("f", domains=("a.example.com",)), function("g", domains=("A.example.com",))),
            "claimed twice",
        ),
        ((function("f", domains=("a.example.com", "a.example.com")),), "claimed twice"),
    ],
)
def test_unroutable_custom_domains_are_refused(
    functions: tuple[spec_pb2.FunctionSpec, ...], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        spec_checks.custom_domains(app(*functions), base_domain="localhost")


def test_the_platform_domain_itself_is_refused() -> None:
    with pytest.raises(urls.DomainError, match="platform's own domain"):
        urls.custom_domain("Apps.Example.com", base_domain="apps.example.com")
    assert urls.custom_domain("apps.example.com.evil.org", base_domain="apps.example.com")
