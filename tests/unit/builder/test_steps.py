"""The one interpreter of image steps: labels, checks, declarations, cache keys, container steps."""

from __future__ import annotations

import pytest

from berth.v1 import spec_pb2
from services.builder import container_steps, pip_args, steps
from services.builder.errors import InvalidSpec

POLICY = pip_args.IndexPolicy.from_env({})


def _spec(*items: spec_pb2.ImageStep, **fields: str) -> spec_pb2.ImageSpec:
    return spec_pb2.ImageSpec(steps=list(items), **fields)


def _apt(*packages: str) -> spec_pb2.ImageStep:
    return spec_pb2.ImageStep(apt_install=spec_pb2.AptInstall(packages=packages))


def _run(*commands: str) -> spec_pb2.ImageStep:
    return spec_pb2.ImageStep(run_commands=spec_pb2.RunCommands(commands=commands))


def _pip(*packages: str) -> spec_pb2.ImageStep:
    return spec_pb2.ImageStep(pip_install=spec_pb2.PipInstall(packages=packages))


def test_labels_name_every_kind() -> None:
    assert steps.step_label(_apt("jq", "tree")) == "apt_install(jq, tree)"
    assert steps.step_label(_run("echo hi", "x" * 100)) == f"run_commands(echo hi, {'x' * 57}...)"
    assert steps.step_label(_pip("six")) == "pip_install(six)"


def test_walk_declares_in_order_and_chains_cache_keys() -> None:
    spec = _spec(
        spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars={"A": "1"})),
        spec_pb2.ImageStep(workdir="/srv"),
        _apt("jq"),
        _pip("six"),
    )
    walked = steps.walk(spec, base_key="runtime:a")
    assert [w.kind for w in walked] == ["env", "workdir", "apt_install", "pip_install"]
    assert walked[0].before.env == {} and walked[2].before.env == {"A": "1"}
    assert walked[2].before.cwd == "/srv" and walked[1].before.cwd == "/"
    # The same prefix on the same base: the same keys; another base or an earlier change: others.
    longer = steps.walk(_spec(*spec.steps, _pip("idna")), base_key="runtime:a")
    assert [w.key for w in longer[:4]] == [w.key for w in walked]
    assert steps.walk(spec, base_key="runtime:b")[2].key != walked[2].key
    changed = _spec(spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars={"A": "2"})), *spec.steps[1:])
    assert steps.walk(changed, base_key="runtime:a")[2].key != walked[2].key


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (_apt("-o=APT::Foo=1"), "is not a Debian package name"),
        (_apt("jq; rm -rf /"), "is not a Debian package name"),
        (_apt(), "no packages"),
        (_run("echo ok", "  "), "an empty command"),
        (spec_pb2.ImageStep(env=spec_pb2.EnvVars(vars={"A B": "1"})), "not a valid environment variable"),
        (
            spec_pb2.ImageStep(
                pip_install=spec_pb2.PipInstall(packages=["six"], extra_args=["-i", "https://evil.example/s"])
            ),
            "evil.example is not an allowed package index",
        ),
        (spec_pb2.ImageStep(), "empty or of a kind"),
    ],
)
def test_check_refuses_with_the_step_named(step: spec_pb2.ImageStep, message: str) -> None:
    with pytest.raises(InvalidSpec, match=message):
        steps.check(_spec(_pip("six"), step), POLICY)


def test_check_accepts_real_package_names() -> None:
    steps.check(
        _spec(_apt("jq", "libpq-dev", "g++", "python3.11-venv", "curl=7.88.1-10", "libc6:amd64")), POLICY
    )


def test_container_steps_are_found_first_registry_then_steps() -> None:
    assert steps.container_step(_spec(_pip("six"))) == ""
    assert steps.container_step(_spec(_pip("six"), _run("make"), _apt("jq"))) == "run_commands(make)"
    assert steps.container_step(_spec(_apt("jq"), registry_tag="python:3.12")) == "from_registry(python:3.12)"


def test_the_default_allow_list_admits_debians_mirrors_for_apt_only() -> None:
    assert POLICY.admits("deb.debian.org", 80, tls=False)
    assert POLICY.admits("security.debian.org", 443, tls=True)
    assert not POLICY.allows("https://deb.debian.org/simple"), "no package index for pip steps"
    own = pip_args.IndexPolicy.from_env({pip_args.ALLOWED_INDEXES_ENV: "pypi.internal"})
    assert not own.admits("deb.debian.org", 80, tls=False), "an operator's list replaces the default"


def test_apt_runs_noninteractive_without_pipelining_and_cleans_up() -> None:
    script = container_steps.step_script(_apt("jq", "tree"))
    assert script[0].startswith("apt-get -o Acquire::http::Pipeline-Depth=0")
    assert "DEBIAN_FRONTEND=noninteractive" in script[1] and script[1].endswith(
        "--no-install-recommends jq tree"
    )
    assert script[-1] == container_steps.APT_CLEAN


def test_wrapper_runs_each_command_in_order_and_stops_at_a_failure() -> None:
    text = container_steps.wrapper(["echo 'a b'", "false"])
    lines = text.splitlines()
    assert lines[0].startswith("python3 -I -S /run/berth-build/relay.py")
    assert lines[1] == ". /run/berth-build/env"
    assert lines[2:] == ["sh -c 'echo '\"'\"'a b'\"'\"'' || exit $?", "sh -c false || exit $?"]


def test_env_file_quotes_values_and_the_proxy_wins() -> None:
    text = container_steps.env_file({"A": "it's", "http_proxy": "http://mine"}, "http://t:x@127.0.0.1:3128")
    assert "export A='it'\"'\"'s'\n" in text
    assert "export http_proxy=http://t:x@127.0.0.1:3128\n" in text and "http://mine" not in text
