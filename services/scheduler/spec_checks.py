"""What a deploy may ask for: every option in an AppSpec either works on this platform or is refused
here, before anything is built or stored, with a message saying what to change.

The SDK refuses what it can when the app file is imported; these checks are the ones only the
platform can make (its runtime, its domain), and the SDK's again for specs sent straight to the
API. Pure functions: services/scheduler/api.py maps the exceptions to gRPC statuses.
"""

from __future__ import annotations

from berth.v1 import spec_pb2
from services.common import call_routes
from services.scheduler import urls

# Runtimes that enforce ScalingSpec.cpu and memory_mib (services/agent/runtime: resource_limits).
LIMITING_RUNTIMES = frozenset({"docker"})


class SpecError(ValueError):
    """The spec asks for something no platform can do: INVALID_ARGUMENT."""


class UnsupportedHere(ValueError):
    """The spec asks for something this platform's set-up cannot do: FAILED_PRECONDITION."""


def check(spec: spec_pb2.AppSpec, *, runtime: str) -> None:
    """Refuses options the platform would otherwise accept and ignore."""
    if runtime == "process":
        for function in spec.functions:
            _check_process_image(function)
    for function in spec.functions:
        # Every function is deployed and callable, web or not (call_routes.py keys it by name).
        problem = call_routes.name_problem(function.name)
        if problem:
            raise SpecError(problem)
        scaling = function.scaling
        if runtime not in LIMITING_RUNTIMES and (scaling.cpu or scaling.memory_mib):
            raise UnsupportedHere(
                f"function {function.name!r} sets cpu= or memory=, limits only the Docker runtime "
                f"enforces, and this platform runs containers on the {runtime} runtime: remove them, "
                "or run the platform with BERTH_RUNTIME=docker"
            )


_DOCKER_HINT = "use the Docker runtime (`BERTH_RUNTIME=docker berth up`)"


def _check_process_image(function: spec_pb2.FunctionSpec) -> None:
    """Image steps the process runtime cannot honour: its containers run on the host's own root
    file system (services/builder/process_build.py says why), so nothing may change that file
    system, replace it, or need a path of its own there."""
    image = function.image
    where = f"function {function.name!r}"
    if image.registry_tag:
        raise UnsupportedHere(
            f"{where}: Image.from_registry({image.registry_tag!r}) needs an image root file system, "
            f"which the process runtime does not have; {_DOCKER_HINT}"
        )
    for step in image.steps:
        kind = step.WhichOneof("step")
        if kind == "run_commands":
            shown = "; ".join(step.run_commands.commands)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise UnsupportedHere(
                f"{where}: image step run_commands({shown!r}) cannot run on the process runtime (it "
                f"would change the host, whose file system the containers share); {_DOCKER_HINT}"
            )
        if kind == "apt_install":
            raise UnsupportedHere(
                f"{where}: image step apt_install({', '.join(step.apt_install.packages)}) cannot run "
                f"on the process runtime (it would install into the host); {_DOCKER_HINT}"
            )
        absolute = step.add_files.remote_path.startswith("/")
        if kind == "add_files" and absolute and not step.add_files.python_path:
            raise UnsupportedHere(
                f"{where}: image step add_local_file/add_local_dir to {step.add_files.remote_path!r}: "
                "the process runtime cannot show files at an absolute path (its containers see the "
                "host's own file system); use a path relative to the image's workdir (read it "
                f"relative to the working directory), or {_DOCKER_HINT}"
            )


def notes(spec: spec_pb2.AppSpec, *, ephemeral: bool) -> list[str]:
    """Lines for the deploy's output about what it leaves out on purpose, so nothing the app file
    asks for is dropped without a word."""
    lines = []
    for function in spec.functions:
        if function.web.kind == spec_pb2.WEB_KIND_UNSPECIFIED:
            lines.append(
                f"function {function.name!r} has no web decorator: it gets no URL; call it with "
                f".remote() (Function.from_name({spec.name!r}, {function.name!r}) from elsewhere)"
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
