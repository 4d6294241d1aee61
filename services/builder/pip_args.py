"""What a `pip_install` step may ask the installer for: an allow-list, checked before anything runs.

Tenant specs reach uv's command line, so every package and argument is classified first:

- a requirement (`six`, `fastapi[standard]>=0.110; python_version >= "3.10"`) resolves on the index;
- a URL (`https://host/x.whl`, `name @ git+https://host/repo`) only to a host the operator allows;
- a local path (`./mylib`, `/root/wheels/x.whl`, `name @ file:///root/x`) only to the app's own
  files, i.e. what earlier `add_files` steps put into the image; it is copied into the build's
  scratch directory and uv gets that copy (`LocalRef`, rendered by the caller);
- of the options, only `--pre`, `--upgrade`/`-U`, `--no-deps`, `--force-reinstall`/`--reinstall`,
  `--only-binary`, `--no-binary`, `--prerelease`, and `--index-url`/`-i`, `--extra-index-url`,
  `--find-links`/`-f` to allowed hosts (or, for find-links, app files).

Allowed hosts: `BERTH_BUILD_ALLOWED_INDEXES` (host names, `host:port` or URLs, comma or space
separated; `*` allows any host), default PyPI's (`pypi.org`, `files.pythonhosted.org`), plus the
hosts of the indexes the operator configured for uv itself (UV_INDEX_URL, UV_DEFAULT_INDEX, ...).
Anything else is an `InvalidSpec` naming the argument.

The default also lets build steps reach Debian's mirrors (`deb.debian.org`,
`security.debian.org`, plain HTTP on 80 and HTTPS on 443) through the egress proxy, for apt in
Docker-runtime build steps; they are no package index for pip steps. An operator who sets
BERTH_BUILD_ALLOWED_INDEXES replaces the whole default, and lists those hosts (or their own
mirror) too if apt_install should work.

The same settings, read with ports and schemes (`IndexPolicy.admits`), are what the builder's
egress proxy lets a build connect to at all (egress_proxy.py): uv's default index (PyPI, HTTPS on
443) unless the operator names their own, an allowed host name on any port, `host:port` on that
port, a URL with its scheme and port.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from berth.v1 import spec_pb2
from services.builder import image_fs
from services.builder.errors import InvalidSpec

ALLOWED_INDEXES_ENV = "BERTH_BUILD_ALLOWED_INDEXES"
DEFAULT_HOSTS = ("pypi.org", "files.pythonhosted.org")
DEFAULT_APT_HOSTS = ("deb.debian.org", "security.debian.org")
# uv's own index settings in the builder's environment: the operator's choice, so allowed too.
OPERATOR_INDEX_ENV = ("UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX", "UV_FIND_LINKS")

FLAGS = {
    "--pre": "--pre",
    "--upgrade": "--upgrade",
    "-U": "--upgrade",
    "--no-deps": "--no-deps",
    "--force-reinstall": "--reinstall",
    "--reinstall": "--reinstall",
}
_INDEX_OPTIONS = {"--index-url": "--index-url", "-i": "--index-url", "--extra-index-url": "--extra-index-url"}
_FIND_LINKS = {"--find-links": "--find-links", "-f": "--find-links"}
_BINARY_OPTIONS = {"--only-binary": "--only-binary", "--no-binary": "--no-binary"}
_PRERELEASE = ("disallow", "allow", "if-necessary", "explicit", "if-necessary-or-explicit")
ALLOWED_OPTIONS = (*FLAGS, *_INDEX_OPTIONS, *_FIND_LINKS, *_BINARY_OPTIONS, "--prerelease")

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_EXTRAS = r"(?:\s*\[[A-Za-z0-9._,\s-]*\])?"
# name, extras, version specifiers; an environment marker may follow after `;`.
_PLAIN = re.compile(rf"{_NAME}{_EXTRAS}\s*[A-Za-z0-9<>=!~*,.+\s()]*")
_DIRECT = re.compile(rf"({_NAME}{_EXTRAS})\s*@\s*(\S+)(\s+;.*)?", re.DOTALL)
_BINARY_VALUE = re.compile(r"[A-Za-z0-9._:,-]+")
_ARCHIVES = (".whl", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip")
_URL_SCHEMES = ("http", "https", "git+http", "git+https")
_ODD_URL = re.compile(r"[\\\s\x00-\x1f\x7f]")
_NAMED_INDEX = re.compile(r"^[A-Za-z0-9_.-]+=(?=[A-Za-z+]+://)")


@dataclass(frozen=True)
class LocalRef:
    """One of the app's own files or directories (an absolute image path), named in an argument.

    The argument is `prefix + <where the build sees the file> + suffix`; `as_url` asks for the
    location as a file:// URL (in `name @ file://...`)."""

    image_path: str
    prefix: str = ""
    suffix: str = ""
    as_url: bool = False


Arg = str | LocalRef


@dataclass(frozen=True)
class Endpoint:
    """Where a build may connect through the builder's egress proxy (egress_proxy.py): `tls` for a
    CONNECT tunnel (HTTPS), otherwise plain-HTTP requests."""

    host: str
    port: int
    tls: bool


@dataclass(frozen=True)
class IndexPolicy:
    """The hosts builds may install from. `*` in hosts allows any.

    The egress proxy reads the same settings with ports and schemes (`admits`): uv's default index
    (PyPI: pypi.org and files.pythonhosted.org, HTTPS on 443) unless the operator names an index of
    their own (UV_INDEX_URL / UV_DEFAULT_INDEX); an allowed host name, any port either way (as
    `allows` does); `host:port`, that port; a URL, its scheme and port."""

    hosts: frozenset[str]
    default_index: frozenset[str] = frozenset()
    bare_hosts: frozenset[str] = frozenset()
    endpoints: frozenset[Endpoint] = frozenset()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IndexPolicy:
        env = os.environ if environ is None else environ
        configured = env.get(ALLOWED_INDEXES_ENV, "").strip()
        operators = _split(configured)
        entries = operators or list(DEFAULT_HOSTS)
        uv_indexes = []
        for name in OPERATOR_INDEX_ENV:
            # UV_INDEX entries may be named: `name=https://host/simple`.
            uv_indexes += [_NAMED_INDEX.sub("", word) for word in _split(env.get(name, "")) if "://" in word]
        # uv fetches plain requirements from PyPI unless told otherwise, whatever the allow-list says.
        own_index = any(env.get(name, "").strip() for name in ("UV_INDEX_URL", "UV_DEFAULT_INDEX"))
        return cls(
            hosts=frozenset(host for host in map(_host_entry, entries + uv_indexes) if host),
            default_index=frozenset() if own_index else frozenset(DEFAULT_HOSTS),
            bare_hosts=frozenset(host for host in map(_bare_host, operators) if host),
            endpoints=frozenset(e for entry in operators + uv_indexes for e in _endpoints(entry))
            | (frozenset() if operators else _apt_endpoints()),
        )

    def admits(self, host: str, port: int, *, tls: bool) -> bool:
        """Whether a build may connect to host:port (a CONNECT tunnel when `tls`, else a plain-HTTP
        request). `*` admits any host on the standard port (443, or 80 for plain HTTP); the proxy
        still refuses loopback and link-local addresses then."""
        host = host.lower().rstrip(".")
        if "*" in self.hosts:
            return port == (443 if tls else 80)
        if host in self.bare_hosts or Endpoint(host, port, tls) in self.endpoints:
            return True
        return tls and port == 443 and host in self.default_index

    def describe_endpoints(self) -> str:
        """What `admits` lets through, for the proxy's refusals."""
        if "*" in self.hosts:
            return "any host on 443 (80 for plain HTTP)"
        shown = [f"{host}:443" for host in sorted(self.default_index)] + sorted(self.bare_hosts)
        shown += sorted(f"{e.host}:{e.port}{'' if e.tls else ' (http)'}" for e in self.endpoints)
        return ", ".join(dict.fromkeys(shown)) or "none"

    def allows(self, url: str) -> bool:
        if "*" in self.hosts:
            return True
        try:
            parts = urlsplit(url)
            host, port = (parts.hostname or "").lower(), parts.port
        except ValueError:
            return False
        return bool(host) and (host in self.hosts or (port is not None and f"{host}:{port}" in self.hosts))

    def describe(self) -> str:
        return ", ".join(sorted(self.hosts)) or "none"


def plan(step: spec_pb2.PipInstall, policy: IndexPolicy, *, cwd: str = "/") -> list[Arg]:
    """uv's arguments for the step (packages, then options), or InvalidSpec naming the culprit.

    Relative local paths are resolved against `cwd`, the image's workdir at this step."""
    packages = [_package(text, policy, cwd) for text in step.packages]
    return packages + _options(step.extra_args, policy, cwd)


def check_spec(spec: spec_pb2.ImageSpec, policy: IndexPolicy) -> None:
    """Checks every pip_install step of the spec up front, so nothing runs for a refused spec."""
    workdir = ""
    for step in spec.steps:
        kind = step.WhichOneof("step")
        if kind == "workdir":
            workdir = image_fs.image_path(step.workdir, cwd=workdir or "/")
        elif kind == "pip_install":
            plan(step.pip_install, policy, cwd=workdir or "/")


def render(args: Iterable[Arg], locate: Callable[[LocalRef], str]) -> list[str]:
    """The final argv: each LocalRef replaced by where `locate` put that file for the build."""
    out = []
    for arg in args:
        if isinstance(arg, LocalRef):
            where = locate(arg)
            out.append(arg.prefix + (f"file://{where}" if arg.as_url else where) + arg.suffix)
        else:
            out.append(arg)
    return out


def _package(text: str, policy: IndexPolicy, cwd: str) -> Arg:
    spec = text.strip()
    if not spec:
        raise InvalidSpec("pip_install: empty package name")
    if spec.startswith("-"):
        raise InvalidSpec(
            f"pip_install package {text!r} is an option, not a package; options go in extra_args "
            f"(allowed: {', '.join(ALLOWED_OPTIONS)})"
        )
    direct = _DIRECT.fullmatch(spec)
    if direct:
        name, location, marker = direct.group(1), direct.group(2), direct.group(3) or ""
        where = _location(location, policy, cwd, what=f"pip_install package {text!r}")
        if isinstance(where, LocalRef):
            return LocalRef(where.image_path, prefix=f"{name} @ ", suffix=marker, as_url=True)
        return spec
    head = spec.split(";", 1)[0]
    if _PLAIN.fullmatch(head) and not head.strip().lower().endswith(_ARCHIVES):
        return spec
    return _location(spec, policy, cwd, what=f"pip_install package {text!r}")


def _options(args: Sequence[str], policy: IndexPolicy, cwd: str) -> list[Arg]:
    out: list[Arg] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-"):
            out.append(_package(arg, policy, cwd))  # a package given among the options
            continue
        name, has_value, value = arg.partition("=") if arg.startswith("--") else (arg, False, "")
        if name in FLAGS and not has_value:
            out.append(FLAGS[name])
            continue
        takes_value = (*_INDEX_OPTIONS, *_FIND_LINKS, *_BINARY_OPTIONS, "--prerelease")
        if name not in takes_value:
            raise InvalidSpec(
                f"pip_install argument {arg!r} is not allowed; allowed: {', '.join(ALLOWED_OPTIONS)}"
            )
        if not has_value:
            if i >= len(args):
                raise InvalidSpec(f"pip_install argument {arg!r} needs a value")
            value = args[i]
            i += 1
        out += _option_value(name, value, policy, cwd)
    return out


def _option_value(name: str, value: str, policy: IndexPolicy, cwd: str) -> list[Arg]:
    shown = f"{name} {value}"
    if name in _INDEX_OPTIONS:
        if "://" not in value or value.split("://", 1)[0].lower() not in ("http", "https"):
            raise InvalidSpec(f"pip_install argument {shown!r} is not allowed: an index is an http(s) URL")
        _check_host(value, policy, shown)
        return [_INDEX_OPTIONS[name], value]
    if name in _FIND_LINKS:
        return [_FIND_LINKS[name], _location(value, policy, cwd, what=f"pip_install argument {shown!r}")]
    if name in _BINARY_OPTIONS:
        if not _BINARY_VALUE.fullmatch(value):
            raise InvalidSpec(f"pip_install argument {shown!r} is not allowed: expected package names")
        return [_BINARY_OPTIONS[name], value]
    if value not in _PRERELEASE:
        raise InvalidSpec(f"pip_install argument {shown!r} is not allowed: expected one of {_PRERELEASE}")
    return ["--prerelease", value]


def _location(location: str, policy: IndexPolicy, cwd: str, *, what: str) -> Arg:
    """A URL (allowed hosts only) or a local path (the app's files only)."""
    if "://" in location:
        scheme = location.split("://", 1)[0].lower()
        if scheme == "file":
            try:
                parts = urlsplit(location)
            except ValueError:
                raise InvalidSpec(f"{what} is not a valid URL") from None
            if parts.netloc not in ("", "localhost"):
                raise InvalidSpec(f"{what} is not allowed: a file:// URL must name a local path")
            return LocalRef(image_fs.image_path(unquote(parts.path), cwd=cwd))
        if scheme not in _URL_SCHEMES:
            raise InvalidSpec(f"{what} is not allowed: only {', '.join(_URL_SCHEMES)} and file URLs are")
        _check_host(location.split("+", 1)[1] if scheme.startswith("git+") else location, policy, what)
        return location
    return LocalRef(image_fs.image_path(location, cwd=cwd))


def _check_host(url: str, policy: IndexPolicy, what: str) -> None:
    if _ODD_URL.search(url):
        # uv parses URLs the WHATWG way, where `\` ends the host and tabs are dropped: a URL
        # Python and uv would read differently is refused rather than guessed at.
        raise InvalidSpec(f"{what} is not allowed: the URL contains a backslash, space or control character")
    if policy.allows(url):
        return
    try:
        host = urlsplit(url).hostname or url
    except ValueError:
        host = url
    raise InvalidSpec(
        f"{what} is not allowed: {host} is not an allowed package index "
        f"(allowed: {policy.describe()}; the operator allows more with {ALLOWED_INDEXES_ENV})"
    )


def _apt_endpoints() -> frozenset[Endpoint]:
    return frozenset(
        endpoint
        for host in DEFAULT_APT_HOSTS
        for endpoint in (Endpoint(host, 80, False), Endpoint(host, 443, True))
    )


def _split(text: str) -> list[str]:
    return [word for word in re.split(r"[\s,]+", text) if word]


def _bare_host(entry: str) -> str:
    """The host of an entry that is a host name only (no scheme, no port), else ""."""
    if entry == "*" or "://" in entry:
        return ""
    try:
        parts = urlsplit(f"//{entry}")
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ""
    return host if port is None else ""


def _endpoints(entry: str) -> list[Endpoint]:
    """`host:8443` -> that port, HTTPS or plain; `http://host:3141/simple` -> plain HTTP on 3141,
    `https://host/simple` -> HTTPS on 443; a bare host name or `*` -> none (see `admits`)."""
    try:
        parts = urlsplit(entry if "://" in entry else f"//{entry}")
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return []
    if not host:
        return []
    if "://" not in entry:
        return [Endpoint(host, port, True), Endpoint(host, port, False)] if port is not None else []
    tls = parts.scheme.lower() != "http"
    return [Endpoint(host, port or (443 if tls else 80), tls)]


def _host_entry(entry: str) -> str:
    """`pypi.org`, `host:8080` or a URL -> the lower-case host (with the port when one is given)."""
    if entry == "*":
        return "*"
    try:
        parts = urlsplit(entry if "://" in entry else f"//{entry}")
        host, port = (parts.hostname or "").lower(), parts.port
    except ValueError:
        return ""
    if "://" in entry or port is None:
        return host
    return f"{host}:{port}"
