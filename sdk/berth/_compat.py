"""Names of the hosted service's API that Berth does not implement, each with what to do instead.

An app written for the hosted service runs with `import berth as modal`; when it reaches for one
of these names it gets a `NotSupportedError` naming the feature and the alternative, rather than a
bare AttributeError (or, worse, something that half-works). Names not listed here still raise
AttributeError, so `hasattr`, copy and pickle probes behave as usual.

The `__getattr__` hooks that consult this table are defined only at run time (not for the type
checker), so mypy still flags a mistyped Berth name inside this project.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exception import NotSupportedError

_URL = "call its web endpoint's URL over HTTP instead (`berth deploy` prints it)"
_IMAGE_PIP = "install Python packages with `Image.pip_install(...)`"
_STATE = "keep state in a service of your own (a database, Redis) reached from your function"

# owner -> attribute -> (what the feature is, what to do instead)
HOSTED_NAMES: dict[str, dict[str, tuple[str, str]]] = {
    "berth": {
        "Dict": ("distributed dicts (berth.Dict)", _STATE),
        "Queue": ("distributed queues (berth.Queue)", _STATE),
        "Volume": ("volumes (berth.Volume)", "write to a database or object store of your own"),
        "NetworkFileSystem": (
            "network file systems (berth.NetworkFileSystem)",
            "write to a database or object store of your own",
        ),
        "CloudBucketMount": (
            "cloud bucket mounts (berth.CloudBucketMount)",
            "read the bucket with its client library (credentials via berth.Secret)",
        ),
        "Mount": ("mounts (berth.Mount)", "add files with `Image.add_local_dir` / `add_local_file`"),
        "Sandbox": ("sandboxes (berth.Sandbox)", "run the command from a function with subprocess"),
        "Cron": ("schedules (berth.Cron)", "call the endpoint's URL from cron or a CI schedule"),
        "Period": ("schedules (berth.Period)", "call the endpoint's URL from cron or a CI schedule"),
        "Retries": ("automatic retries (berth.Retries)", "retry in the client, or inside the function"),
        "Tunnel": ("tunnels (berth.forward)", "use a web decorator: every web function gets a URL"),
        "forward": ("tunnels (berth.forward)", "use a web decorator: every web function gets a URL"),
        "batched": ("@berth.batched (dynamic batching)", "batch inside your endpoint"),
        "build": ("@berth.build (image build hooks)", "download at build time with `Image.pip_install`"),
        "gpu": ("GPUs (berth.gpu)", "run on CPU; Berth schedules no GPUs"),
        "current_function_call_id": (
            "berth.current_function_call_id()",
            "use the request's x-berth-request-id",
        ),
        "current_input_id": ("berth.current_input_id()", "use the request's x-berth-request-id"),
        "is_local": ("berth.is_local()", "check an environment variable of your own"),
        "interact": ("berth.interact()", "use `berth serve` and your editor"),
        "enable_output": ("berth.enable_output()", "`berth deploy` always prints the build's progress"),
        "Proxy": ("static outbound IPs (berth.Proxy)", "route outbound traffic through your own proxy"),
        "Environment": (
            "environments (berth.Environment)",
            "run one `berth up` (BERTH_HOME) per environment",
        ),
    },
    "berth.experimental": {
        "stop_fetching_inputs": (
            "berth.experimental.stop_fetching_inputs()",
            "raise an exception in @berth.enter() to fail the container, or let it scale down",
        ),
        "get_local_input_concurrency": (
            "berth.experimental.get_local_input_concurrency()",
            "set it with @berth.concurrent(max_inputs=...)",
        ),
        "set_local_input_concurrency": (
            "berth.experimental.set_local_input_concurrency()",
            "set it with @berth.concurrent(max_inputs=...) and redeploy",
        ),
        "clustered": ("@berth.experimental.clustered (multi-node clusters)", "run one container per call"),
        "get_cluster_info": ("berth.experimental.get_cluster_info()", "run one container per call"),
        "raw_registry_image": ("berth.experimental.raw_registry_image", "start from Image.debian_slim()"),
        "raw_dockerfile_image": ("berth.experimental.raw_dockerfile_image", "start from Image.debian_slim()"),
    },
    "App": {
        "run": ("App.run() (ephemeral runs from Python)", "use `berth serve FILE` or `berth deploy FILE`"),
        "deploy": ("App.deploy() from Python", "use `berth deploy FILE`"),
        "lookup": ("App.lookup()", "deploy with `berth deploy FILE`; apps are named in the file"),
        "include": ("App.include()", "import the other module's functions into one App"),
        "schedule": ("schedules", "call the endpoint's URL from cron or a CI schedule"),
    },
    "Function": {
        "spawn_map": ("Function.spawn_map", "call `.spawn(...)` once per input, or use `.map(...)`"),
        "lookup": (
            "Function.lookup (the former name of from_name)",
            "use berth.Function.from_name(app, name)",
        ),
        "keep_warm": (
            "Function.keep_warm()",
            "set min_containers=N in @app.function() (`berth deploy` applies it)",
        ),
        "update_autoscaler": (
            "Function.update_autoscaler()",
            "set min_containers/max_containers and redeploy",
        ),
        "get_web_url": ("Function.get_web_url()", "`berth deploy` and `berth app list` print the URLs"),
        "web_url": ("Function.web_url", "`berth deploy` and `berth app list` print the URLs"),
        "with_options": ("Function.with_options()", "pass the options to @app.function() and redeploy"),
    },
    "Cls": {
        "lookup": ("Cls.lookup (the former name of from_name)", "use berth.Cls.from_name(app, name)"),
        "with_options": ("Cls.with_options()", "pass the options to @app.cls() and redeploy"),
        "with_concurrency": ("Cls.with_concurrency()", "decorate the class with @berth.concurrent(...)"),
        "with_batching": ("Cls.with_batching()", "batch inside your endpoint"),
    },
    "Image": {
        "dockerfile_commands": ("Image.dockerfile_commands", f"{_IMAGE_PIP} and `env()`/`workdir()`"),
        "from_dockerfile": ("Image.from_dockerfile", "start from Image.debian_slim() and pip_install"),
        "from_aws_ecr": ("Image.from_aws_ecr", "start from Image.debian_slim()"),
        "from_gcp_artifact_registry": ("Image.from_gcp_artifact_registry", "start from Image.debian_slim()"),
        "micromamba": ("conda images (Image.micromamba)", f"start from Image.debian_slim() and {_IMAGE_PIP}"),
        "micromamba_install": ("conda packages (Image.micromamba_install)", _IMAGE_PIP),
        "uv_sync": ("Image.uv_sync", "list the packages in `Image.pip_install(...)`"),
        "pip_install_from_pyproject": (
            "Image.pip_install_from_pyproject",
            "list the packages in `Image.pip_install(...)`",
        ),
        "poetry_install_from_file": ("Image.poetry_install_from_file", "list the packages in `pip_install`"),
        "run_function": (
            "Image.run_function (Python at build time)",
            "do the work when the container starts",
        ),
        "entrypoint": (
            "Image.entrypoint",
            "Berth starts your function itself; use @berth.web_server for a server",
        ),
        "shell": ("Image.shell", "use `berth serve FILE` to iterate"),
        "copy_local_file": ("Image.copy_local_file", "use `Image.add_local_file`"),
        "copy_local_dir": ("Image.copy_local_dir", "use `Image.add_local_dir`"),
        "add_local_python_packages": ("Image.add_local_python_packages", "use `add_local_python_source`"),
    },
    "Secret": {
        "from_dotenv": (
            "Secret.from_dotenv",
            "`berth secret create NAME --from-dotenv FILE`, then Secret.from_name",
        ),
        "from_local_environ": (
            "Secret.from_local_environ",
            "`berth secret create NAME K=V`, then Secret.from_name",
        ),
        "from_dotenv_file": ("Secret.from_dotenv", "`berth secret create NAME --from-dotenv FILE`"),
    },
}


class RenamedWarning(DeprecationWarning):
    """A former name of the hosted service's API was used (`keep_warm=`, `berth.Stub`): it works,
    and `berth deploy` prints the warning with the current name to use."""


def lookup(owner: str, name: str) -> NotSupportedError | None:
    """The error for a hosted-service name Berth lacks, None for any other name."""
    entry = HOSTED_NAMES.get(owner, {}).get(name)
    return NotSupportedError(*entry) if entry else None


def missing(owner: str, name: str, what: str) -> Exception:
    """What a failed attribute lookup raises: NotSupportedError for a known hosted name, else the
    usual AttributeError (`what` as Python would say it)."""
    return lookup(owner, name) or AttributeError(f"{what} has no attribute {name!r}")


def _instance_getattr(self: object, name: str) -> Any:
    owner = type(self).__name__
    raise missing(owner, name, f"{owner!r} object")


class HostedNames(type):
    """Metaclass of the public classes (App, Function, Cls, Image, Secret): a hosted-service name
    they lack raises NotSupportedError, read on the class (`Function.from_name`) or on an instance
    (`f.remote`, `image.apt_install`), which gets a `__getattr__` unless it defines its own."""

    def __new__(mcs, name: str, bases: tuple[type, ...], namespace: dict[str, Any]) -> HostedNames:
        namespace.setdefault("__getattr__", _instance_getattr)
        return super().__new__(mcs, name, bases, namespace)

    if not TYPE_CHECKING:

        def __getattr__(cls, name: str) -> Any:
            raise missing(cls.__name__, name, f"type object {cls.__name__!r}")
