"""The pip_install allow-list: what reaches uv's command line, and what is refused by name."""

from __future__ import annotations

import grpc
import pytest

from berth.v1 import spec_pb2
from services.builder.errors import InvalidSpec
from services.builder.pip_args import IndexPolicy, LocalRef, check_spec, plan, render

PYPI = IndexPolicy.from_env({})


def step(*packages: str, extra: tuple[str, ...] = ()) -> spec_pb2.PipInstall:
    return spec_pb2.PipInstall(packages=packages, extra_args=extra)


def refused(pip: spec_pb2.PipInstall, policy: IndexPolicy = PYPI, cwd: str = "/") -> str:
    with pytest.raises(InvalidSpec) as raised:
        plan(pip, policy, cwd=cwd)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    return raised.value.message


def test_default_policy_is_pypi_only() -> None:
    assert PYPI.hosts == frozenset({"pypi.org", "files.pythonhosted.org"})
    assert PYPI.allows("https://pypi.org/simple")
    assert not PYPI.allows("https://evil.example/simple")
    assert not PYPI.allows("https://pypi.org.evil.example/simple")


def test_operator_settings_extend_the_policy() -> None:
    policy = IndexPolicy.from_env(
        {
            "BERTH_BUILD_ALLOWED_INDEXES": "mirror.internal, https://Other.Example/simple  proxy:8443",
            "UV_INDEX": "corp=https://corp.example/simple",
            "UV_INDEX_URL": "https://uv-index.example/simple",
        }
    )
    assert policy.hosts == {
        "mirror.internal",
        "other.example",
        "proxy:8443",
        "corp.example",
        "uv-index.example",
    }
    assert policy.allows("https://proxy:8443/simple") and not policy.allows("https://proxy:9000/simple")
    assert not policy.allows("https://pypi.org/simple"), "the operator's list replaces the default"
    assert IndexPolicy.from_env({"BERTH_BUILD_ALLOWED_INDEXES": "*"}).allows("https://anything.example/")


@pytest.mark.parametrize(
    "package",
    [
        "six",
        "fastapi[standard]>=0.110",
        "requests[socks, security] ==2.31.*",
        'numpy>=1.26; python_version >= "3.10"',
        "torch==2.3.0+cpu",
        "Django (>=4.2)",
        "name @ https://files.pythonhosted.org/packages/x/name-1.0-py3-none-any.whl",
        "https://pypi.org/packages/x/y.whl",
    ],
)
def test_requirements_and_allowed_urls_pass_unchanged(package: str) -> None:
    assert plan(step(package), PYPI) == [package]


@pytest.mark.parametrize(
    ("package", "named"),
    [
        ("evil @ https://evil.example/evil.whl", "evil.example"),
        ("https://evil.example/x.tar.gz", "evil.example"),
        ("x @ git+https://github.com/owner/repo@v1", "github.com"),
        ("x @ ftp://pypi.org/x.whl", "only http"),
        ("x @ https://evil.example\\@pypi.org/x.whl", "backslash"),
        ("https://user@evil.example/x.whl", "evil.example"),
        ("--index-url=https://evil.example", "is an option"),
        ("-r", "is an option"),
    ],
)
def test_packages_from_elsewhere_are_refused(package: str, named: str) -> None:
    message = refused(step(package))
    assert repr(package) in message and named in message


def test_options_are_allow_listed_and_canonical() -> None:
    extra = ("--pre", "-U", "--no-deps", "--force-reinstall", "--only-binary=:all:", "--prerelease", "allow")
    extra += ("-i", "https://pypi.org/simple", "--extra-index-url=https://files.pythonhosted.org/x")
    assert plan(step("six", extra=extra), PYPI) == [
        "six",
        "--pre",
        "--upgrade",
        "--no-deps",
        "--reinstall",
        "--only-binary",
        ":all:",
        "--prerelease",
        "allow",
        "--index-url",
        "https://pypi.org/simple",
        "--extra-index-url",
        "https://files.pythonhosted.org/x",
    ]


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (("--index-url", "https://evil.example/simple"), "--index-url https://evil.example/simple"),
        (("--extra-index-url=http://10.0.0.1/simple",), "--extra-index-url http://10.0.0.1/simple"),
        (("-f", "https://evil.example/wheels/"), "-f https://evil.example/wheels/"),
        (("--index-url", "file:///srv/index"), "an index is an http(s) URL"),
        (("--trusted-host", "evil.example"), "'--trusted-host'"),
        (("--target", "/usr/lib"), "'--target'"),
        (("--python=/usr/bin/python3",), "'--python=/usr/bin/python3'"),
        (("-r", "requirements.txt"), "'-r'"),
        (("-e", "."), "'-e'"),
        (("--config-file", "/etc/x"), "'--config-file'"),
        (("--no-binary", "$(id)"), "expected package names"),
        (("--prerelease", "yes"), "expected one of"),
        (("--index-url",), "needs a value"),
        (("--pre=1",), "'--pre=1'"),
    ],
)
def test_refused_options_are_named(extra: tuple[str, ...], named: str) -> None:
    message = refused(step("six", extra=extra))
    assert named in message, message


def test_local_paths_are_app_files_resolved_against_the_workdir() -> None:
    planned = plan(
        step("./mylib", "../wheels/a-1.0-py3-none-any.whl", "pkg @ file:///srv/pkg ; os_name == 'posix'"),
        PYPI,
        cwd="/root/app",
    )
    assert planned == [
        LocalRef("/root/app/mylib"),
        LocalRef("/root/wheels/a-1.0-py3-none-any.whl"),
        LocalRef("/srv/pkg", prefix="pkg @ ", suffix=" ; os_name == 'posix'", as_url=True),
    ]
    assert plan(step("a.tar.gz"), PYPI, cwd="/w") == [LocalRef("/w/a.tar.gz")], "an archive name is a file"
    assert plan(step("../../../../etc"), PYPI, cwd="/root") == [LocalRef("/etc")], "never above the image's /"
    links = plan(step("mylib", extra=("--find-links", "wheels")), PYPI, cwd="/root")
    assert links == ["mylib", "--find-links", LocalRef("/root/wheels")]


def test_render_puts_staged_copies_in_place() -> None:
    planned = plan(step("./lib", "pkg @ file:///srv/pkg", extra=("-f", "/wheels")), PYPI, cwd="/root")
    staged = {"/root/lib": "/scratch/0/lib", "/srv/pkg": "/scratch/1/pkg", "/wheels": "/scratch/2/wheels"}
    assert render(planned, lambda ref: staged[ref.image_path]) == [
        "/scratch/0/lib",
        "pkg @ file:///scratch/1/pkg",
        "--find-links",
        "/scratch/2/wheels",
    ]


def test_file_urls_must_be_local() -> None:
    assert "must name a local path" in refused(step("x @ file://otherhost/srv/x"))


def test_check_spec_tracks_the_workdir_and_checks_every_step() -> None:
    spec = spec_pb2.ImageSpec(
        steps=[
            spec_pb2.ImageStep(pip_install=step("six")),
            spec_pb2.ImageStep(workdir="/root"),
            spec_pb2.ImageStep(pip_install=step("./lib")),
            spec_pb2.ImageStep(pip_install=step("six", extra=("--index-url", "https://evil.example/s"))),
        ]
    )
    with pytest.raises(InvalidSpec, match="evil.example"):
        check_spec(spec, PYPI)
    del spec.steps[-1]
    check_spec(spec, PYPI)
