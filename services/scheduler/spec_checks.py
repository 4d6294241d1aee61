"""What a deploy may ask for: every option in an AppSpec either works on this platform or is refused
here, before anything is built or stored, with a message saying what to change.

The SDK refuses what it can when the app file is imported; these checks are the ones only the
platform can make (its runtime, its domain), and the SDK's again for specs sent straight to the
API. Pure functions: services/scheduler/api.py maps the exceptions to gRPC statuses.
"""

from __future__ import annotations

from berth.v1 import spec_pb2
from services.scheduler import urls

# Runtimes that enforce ScalingSpec.cpu and memory_mib (services/agent/runtime: resource_limits).
LIMITING_RUNTIMES = frozenset({"docker"})


class SpecError(ValueError):
    """The spec asks for something no platform can do: INVALID_ARGUMENT."""


class UnsupportedHere(ValueError):
    """The spec asks for something this platform's set-up cannot do: FAILED_PRECONDITION."""


def check(spec: spec_pb2.AppSpec, *, runtime: str) -> None:
    """Refuses options the platform would otherwise accept and ignore."""
    for function in spec.functions:
        if function.web.kind == spec_pb2.WEB_KIND_UNSPECIFIED:
            continue  # no URL, no containers: see notes()
        scaling = function.scaling
        if runtime not in LIMITING_RUNTIMES and (scaling.cpu or scaling.memory_mib):
            raise UnsupportedHere(
                f"function {function.name!r} sets cpu= or memory=, limits only the Docker runtime "
                f"enforces, and this platform runs containers on the {runtime} runtime: remove them, "
                "or run the platform with BERTH_RUNTIME=docker"
            )


def notes(spec: spec_pb2.AppSpec, *, ephemeral: bool) -> list[str]:
    """Lines for the deploy's output about what it leaves out on purpose, so nothing the app file
    asks for is dropped without a word."""
    lines = []
    for function in spec.functions:
        if function.web.kind == spec_pb2.WEB_KIND_UNSPECIFIED:
            lines.append(
                f"function {function.name!r} has no web decorator: it gets no URL or containers of "
                "its own (calling it from an endpoint runs it in that endpoint's container)"
            )
        elif ephemeral and function.web.custom_domains:
            lines.append(
                f"function {function.name!r}: `berth serve` does not claim custom domains "
                f"({', '.join(function.web.custom_domains)}); `berth deploy` does"
            )
    return lines


def custom_domains(spec: spec_pb2.AppSpec, *, base_domain: str) -> dict[str, list[str]]:
    """Function name -> its custom domains as route keys (lowercased); SpecError for a name that is
    not a domain, lies under the platform's own domain, or is claimed by two functions."""
    claimed: dict[str, str] = {}
    found: dict[str, list[str]] = {}
    for function in spec.functions:
        if function.web.kind == spec_pb2.WEB_KIND_UNSPECIFIED:
            continue
        for text in function.web.custom_domains:
            try:
                domain = urls.custom_domain(text, base_domain=base_domain)
            except urls.DomainError as exc:
                raise SpecError(f"function {function.name!r}: custom domain {exc}") from None
            other = claimed.setdefault(domain, function.name)
            if other != function.name or domain in found.get(function.name, []):
                raise SpecError(
                    f"custom domain {domain!r} is claimed twice (by {other!r} and {function.name!r})"
                )
            found.setdefault(function.name, []).append(domain)
    return found
