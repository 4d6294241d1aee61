"""Where tenant code runs at build time: uv, and the `setup.py`s and build backends it starts.

Every build command runs through a `Session` of the `Sandbox`:

- **No platform environment.** The command gets only what installing needs: PATH, locale, the
  operator's proxy and CA settings and `UV_*` index settings (`build_env`), a HOME and TMPDIR in
  the session's scratch directory, the uv cache, and the image's `env()` minus the names that
  steer the installer, the loader or the sandbox (`image_env_for_build`). The image env is only
  ever put into that child environment, never into the builder's own `os.environ`.
- **No platform files, no Docker socket.** Where the host allows it (root, or an unprivileged
  user namespace) the command runs in new mount, pid and IPC namespaces (sandbox_exec.py):
  $BERTH_HOME, the files named by BERTH_* settings (seeds, keys), /run and /var/run (secrets, the Docker
  socket) and DOCKER_HOST's socket are hidden, /tmp, /var/tmp and /dev/shm are private, and
  only the directories the step writes (the venv or target, the scratch directory, the uv
  cache) are bound back into the hidden home. Its /proc shows only its own processes, and
  everything it started dies with it.
- **Unprivileged.** As root, the command runs as BERTH_BUILD_UID:BERTH_BUILD_GID (default
  2^30-1, `BUILD_UID`: a uid of builds only, below every agent's container uids and far above
  real users; nothing needs it in /etc/passwd); the directories it writes are handed to that uid
  first and taken back (`reclaim`: owned by the builder, not writable by others, readable by
  all) before anything of theirs is used. In a user namespace it runs as the builder's own uid
  outside.
- **Network: only the package indexes.** Every command gets the builder's egress proxy
  (egress_proxy.py) as HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, NO_PROXY unset; the proxy opens
  tunnels to the index policy's hosts only (pip_args.IndexPolicy) and writes what it refused into
  the build's log. As root an nftables rule (egress_firewall.py) lets the build uid connect to the
  proxy's port and nothing else, so a build backend that ignores the proxy settings is refused
  too, DNS included. Not root (user namespaces, or no isolation), nft cannot tell builds apart
  from the builder: the proxy settings steer uv and well-behaved tools, but a build backend can
  still open connections of its own; the builder logs that once. The operator's own proxy
  (HTTPS_PROXY etc. in the builder's environment) is what the egress proxy connects through.
- **The uv cache is shared** by all builds (written as the build uid): a build can tamper with
  what a later build takes from it. Images never share files with it (UV_LINK_MODE=copy).

Where neither root nor user namespaces are available, builds still run, with the scrubbed
environment only (and, as root without namespaces, the uid drop); the builder logs that once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from pathlib import Path

import berth
from services.builder.commands import LineSink, ProcessResult, run_streaming, uv_bin
from services.builder.egress_firewall import BuildFirewall
from services.builder.egress_proxy import EgressProxy, Upstream
from services.builder.errors import BuildFailed
from services.builder.pip_args import IndexPolicy

log = logging.getLogger("berth.builder")

NAMESPACES = "namespaces"  # root: mount/pid/IPC namespaces, then the unprivileged uid
USERNS = "userns"  # not root: the same namespaces inside a user namespace
UID_ONLY = "uid"  # root without namespaces (e.g. a container without CAP_SYS_ADMIN)
NONE = "none"  # neither: only the scrubbed environment
MODES = (NAMESPACES, USERNS, UID_ONLY, NONE)

BUILD_UID_ENV = "BERTH_BUILD_UID"
BUILD_GID_ENV = "BERTH_BUILD_GID"
# The default build uid and gid: used by builds only, so the egress firewall can match their
# sockets without touching any other process (65534, nobody, is shared with host daemons). Just
# below the agents' container uids (services/agent/runtime/process.py UidRange, from 2^30).
BUILD_UID = (1 << 30) - 1
EXEC_SCRIPT = Path(__file__).resolve().with_name("sandbox_exec.py")

# Taken from the builder's environment: how this host reaches the network and the index.
_PASSED = frozenset(
    {"PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "SSL_CERT_FILE", "SSL_CERT_DIR"}
    | {"REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
    | {f"{name}_proxy" for name in ("http", "https", "all", "no")}
    | {f"{name.upper()}_PROXY" for name in ("http", "https", "all", "no")}
)
_PASSED_PREFIX = "UV_"
_PROXY_NAMES = frozenset({f"{name}_proxy" for name in ("http", "https", "all", "no")}) | frozenset(
    {f"{name.upper()}_PROXY" for name in ("http", "https", "all", "no")}
)
_SET_BY_SANDBOX = frozenset(
    {"HOME", "TMPDIR", "UV_CACHE_DIR", "NO_COLOR", "UV_NO_PROGRESS", "UV_PYTHON_DOWNLOADS", "UV_LINK_MODE"}
)
_CA_PATHS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")
_LOCALE = frozenset({"LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ"})
# Image env names a build step does not get: they would steer the installer (another index, a
# proxy, other certificates), the dynamic loader or the interpreter, or undo the sandbox.
_IMAGE_ENV_BLOCKED = (
    (_PASSED - _LOCALE) | _SET_BY_SANDBOX | {"TMP", "TEMP", "NETRC", "USER", "LOGNAME", "SHELL"}
)
_IMAGE_ENV_BLOCKED_PREFIXES = ("UV_", "PIP_", "LD_", "PYTHON", "XDG_", "GIT_", "SSL_", "BERTH_", "DOCKER_")
_PRIVATE_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
_HIDDEN_ALWAYS = ("/run", "/var/run", "/var/run/docker.sock", "/run/docker.sock")

_probed: str | None = None
_warned = False
_egress_warned = False


def build_env(
    environ: Mapping[str, str],
    *,
    image_env: Mapping[str, str] | None = None,
    home: Path,
    tmp: Path,
    cache: Path,
    proxy: str | None = None,
) -> dict[str, str]:
    """The whole environment of a build command (nothing else of the builder's gets through).

    With `proxy` (the egress proxy's URL) every proxy setting points at it and NO_PROXY is gone:
    the operator's own proxies are the egress proxy's business then, not the build's."""
    env = {
        key: value
        for key, value in environ.items()
        if key in _PASSED or (key.startswith(_PASSED_PREFIX) and key not in _SET_BY_SANDBOX)
    }
    env.setdefault("PATH", os.defpath)
    env.update(image_env_for_build(image_env or {}))
    env.update(
        {
            "HOME": str(home),
            "TMPDIR": str(tmp),
            "UV_CACHE_DIR": str(cache),
            "NO_COLOR": "1",
            "UV_NO_PROGRESS": "1",
            "UV_PYTHON_DOWNLOADS": "never",
            # The cache is another mount inside the sandbox, and an image must not share inodes
            # with a cache later builds can write to.
            "UV_LINK_MODE": "copy",
        }
    )
    if proxy is not None:
        for name in _PROXY_NAMES:
            env.pop(name, None)
        env.update({name: proxy for name in _PROXY_NAMES if not name.lower().startswith("no_")})
    return env


def image_env_for_build(image_env: Mapping[str, str]) -> dict[str, str]:
    """The image's `env()` as build steps see it, without the names in _IMAGE_ENV_BLOCKED*."""
    return {
        key: value
        for key, value in image_env.items()
        if key not in _IMAGE_ENV_BLOCKED
        and key.upper() not in _IMAGE_ENV_BLOCKED
        and not key.upper().startswith(_IMAGE_ENV_BLOCKED_PREFIXES)
        and "\0" not in key + value
        and "=" not in key
    }


def platform_paths(environ: Mapping[str, str]) -> list[str]:
    """Files and directories the builder's settings name (BERTH_HOME, BERTH_*_FILE, ...), to hide."""
    found = []
    for key, value in environ.items():
        if key.startswith("BERTH_") and os.path.isabs(value) and os.path.normpath(value) != "/":
            if os.path.lexists(value):
                found.append(os.path.normpath(value))
    return found


def docker_socket(environ: Mapping[str, str]) -> list[str]:
    host = environ.get("DOCKER_HOST", "")
    return [host.removeprefix("unix://")] if host.startswith("unix://") else []


def reclaim(root: Path) -> None:
    """After a sandboxed step: everything under `root` owned by the builder, written by no one
    else, readable (directories and executables: usable) by all. Symlinks are not followed."""
    uid, gid = os.geteuid(), os.getegid()

    def fix(path: str, is_dir: bool) -> None:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            if (info.st_uid, info.st_gid) != (uid, gid):
                os.lchown(path, uid, gid)
            return
        if (info.st_uid, info.st_gid) != (uid, gid):
            os.lchown(path, uid, gid)
        mode = stat.S_IMODE(info.st_mode) & ~0o7022  # no setuid/setgid/sticky, no group/other write
        mode |= 0o444
        if is_dir or mode & 0o100:
            mode |= 0o111
        if mode != stat.S_IMODE(info.st_mode):
            os.chmod(path, mode)

    if not os.path.lexists(root):
        return
    fix(str(root), root.is_dir() and not root.is_symlink())
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            path = os.path.join(dirpath, name)
            fix(path, not os.path.islink(path))
        for name in filenames:
            fix(os.path.join(dirpath, name), False)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    os.lchown(root, uid, gid)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in (*dirnames, *filenames):
            os.lchown(os.path.join(dirpath, name), uid, gid)


def _blocked_ancestor(path: str, uid: int, gid: int) -> str | None:
    """The topmost directory above `path` that `uid`:`gid` cannot pass through, if any."""
    parts = Path(path).parts
    for depth in range(1, len(parts)):
        ancestor = str(Path(*parts[:depth]))
        try:
            info = os.stat(ancestor)
        except OSError:
            return None
        if info.st_uid == uid:
            allowed = info.st_mode & stat.S_IXUSR
        elif info.st_gid == gid:
            allowed = info.st_mode & stat.S_IXGRP
        else:
            allowed = info.st_mode & stat.S_IXOTH
        if not allowed:
            return ancestor
    return None


def _under(path: str, roots: Iterable[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


class Sandbox:
    """How build commands run on this host; one per builder process (see the module docstring)."""

    def __init__(
        self,
        home: Path,
        *,
        hidden: Sequence[str | Path] = (),
        policy: IndexPolicy | None = None,
        environ: Mapping[str, str] | None = None,
        mode: str | None = None,
    ) -> None:
        self.environ = dict(os.environ if environ is None else environ)
        self.home = Path(os.path.abspath(home))
        self.cache_dir = self.home / "cache" / "uv"
        self.policy = policy or IndexPolicy.from_env(self.environ)
        self.uid = int(self.environ.get(BUILD_UID_ENV) or BUILD_UID)
        self.gid = int(self.environ.get(BUILD_GID_ENV) or BUILD_UID)
        if mode is not None and mode not in MODES:
            raise ValueError(f"sandbox mode {mode!r}: expected one of {MODES}")
        self._mode = mode
        self._hidden = [
            str(self.home),
            *(os.path.abspath(p) for p in hidden if str(p)),
            *platform_paths(self.environ),
            *docker_socket(self.environ),
            *_HIDDEN_ALWAYS,
        ]
        self._cache_ready = False
        self._proxy: EgressProxy | None = None
        self._proxy_lock: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._firewall = BuildFirewall()
        # Whether the build uid can reach the egress proxy only (nft), rather than being steered
        # there by its environment alone.
        self.egress_filtered = False

    async def mode(self) -> str:
        """How much isolation this host allows (probed once per process, in a child)."""
        if self._mode is None:
            self._mode = await _probe()
            exposed = await asyncio.to_thread(self.exposed) if self._mode == UID_ONLY else []
            _warn_once(self._mode, self.uid, self.gid, exposed)
        return self._mode

    def exposed(self) -> list[str]:
        """Platform files the build uid could read when nothing can be hidden (no namespaces)."""
        found = []
        for path in dict.fromkeys(self._hidden):
            try:
                info = os.stat(path)
            except OSError:
                continue
            if info.st_uid == self.uid:
                readable = info.st_mode & stat.S_IRUSR
            elif info.st_gid == self.gid:
                readable = info.st_mode & stat.S_IRGRP
            else:
                readable = info.st_mode & stat.S_IROTH
            if readable and not _blocked_ancestor(path, self.uid, self.gid):
                found.append(path)
        return found

    async def prepare(self) -> str:
        """Probes the mode, readies the uv cache for the build uid and starts the egress proxy
        (with its firewall, as root); returns the mode."""
        mode = await self.mode()
        if not self._cache_ready:
            await asyncio.to_thread(self._prepare_cache, mode)
            self._cache_ready = True
        await self.egress_proxy(mode)
        return mode

    async def egress_proxy(self, mode: str) -> EgressProxy:
        """The proxy of this event loop, started (and firewalled) on first use."""
        loop = asyncio.get_running_loop()
        if self._proxy_lock is None or self._proxy_lock[0] is not loop:
            self._proxy_lock = (loop, asyncio.Lock())
        async with self._proxy_lock[1]:
            proxy = self._proxy
            if proxy is not None and proxy.loop is loop and proxy.serving:
                return proxy
            # First use, or the loop the earlier proxy ran on is gone (one asyncio.run per call).
            proxy = EgressProxy(self.policy, Upstream.from_env(self.environ))
            await proxy.start()
            self._proxy = proxy
            if self.drops_uid(mode):
                why = await asyncio.to_thread(self._firewall.install, self.uid, proxy.port)
            else:
                why = "not root: builds do not run as a uid of their own that nftables could match"
            self.egress_filtered = not why
            _warn_egress_once(why, self.uid, proxy.port, self.policy)
            return proxy

    async def close(self) -> None:
        """Stops the egress proxy and removes this builder's firewall rules."""
        proxy, self._proxy = self._proxy, None
        if proxy is not None and proxy.loop is asyncio.get_running_loop():
            await proxy.close()
        await asyncio.to_thread(self._firewall.remove)

    def _prepare_cache(self, mode: str) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        if mode in (NAMESPACES, UID_ONLY) and os.stat(self.cache_dir).st_uid != self.uid:
            _chown_tree(self.cache_dir, self.uid, self.gid)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[Session]:
        """A scratch directory (HOME, TMPDIR, staged app files) for one or more build commands."""
        mode = await self.prepare()
        base = self.home / "tmp"
        base.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="build-", dir=base))
        try:
            for sub in ("home", "tmp", "app"):
                (scratch / sub).mkdir()
            if self.drops_uid(mode):
                _chown_tree(scratch, self.uid, self.gid)
            yield Session(self, mode, scratch)
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch, True)

    def drops_uid(self, mode: str) -> bool:
        return mode in (NAMESPACES, UID_ONLY)

    def config(
        self, mode: str, *, cwd: Path, writable: Sequence[str | Path], readable: Sequence[str | Path]
    ) -> dict[str, object]:
        """What sandbox_exec.py sets up for one command (see there).

        Besides the platform paths: any ancestor of a path the command needs that the build uid
        could not pass through (a 0700 /root above ~/.berth) is hidden too, so the path is rebuilt
        on traversable tmpfs; paths it needs (uv, this interpreter, resolv.conf, CA files) that
        fall under anything hidden are bound back read-only."""
        keep_rw = [os.path.abspath(p) for p in dict.fromkeys(map(str, writable))]
        wanted = [
            *(os.path.realpath(p) for p in readable),
            sys.prefix,
            sys.base_prefix,
            os.path.dirname(os.path.realpath(sys.executable)),
        ]
        wanted = [os.path.abspath(p) for p in dict.fromkeys(wanted) if os.path.exists(p)]
        hidden = list(dict.fromkeys(self._hidden))
        if self.drops_uid(mode):
            for path in (*keep_rw, *wanted):
                blocked = _blocked_ancestor(path, self.uid, self.gid)
                if blocked and not _under(blocked, hidden):
                    hidden.append(blocked)
        covered = [*hidden, *_PRIVATE_DIRS]
        return {
            "mode": mode,
            "namespaces": str(namespaces_module()),
            "uid": self.uid,
            "gid": self.gid,
            "cwd": str(cwd),
            "hide": hidden,
            "private": list(_PRIVATE_DIRS),
            "writable": keep_rw,
            "readable": [p for p in wanted if _under(p, covered) and not _under(p, keep_rw)],
        }


class Session:
    def __init__(self, sandbox: Sandbox, mode: str, scratch: Path) -> None:
        self.sandbox = sandbox
        self.mode = mode
        self.scratch = scratch
        self._staged = itertools.count()

    async def own(self, *paths: Path) -> None:
        """Hands directories a build command writes to the build uid (creating them)."""
        for path in paths:
            path.mkdir(parents=True, exist_ok=True)
            if self.sandbox.drops_uid(self.mode):
                await asyncio.to_thread(_chown_tree, path, self.sandbox.uid, self.sandbox.gid)

    def stage(self, source: Path) -> Path:
        """A copy of one of the app's files or directories where the build command can use it
        (and write to it: build backends write into source trees)."""
        target = self.scratch / "app" / str(next(self._staged)) / (source.name or "root")
        target.parent.mkdir(parents=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)
        if self.sandbox.drops_uid(self.mode):
            _chown_tree(target.parent, self.sandbox.uid, self.sandbox.gid)
        return target

    def _check_reachable(self, paths: Sequence[str | Path]) -> None:
        """Without namespaces nothing can be bound into reach: say which directory is closed."""
        uid, gid = self.sandbox.uid, self.sandbox.gid
        for path in [*map(str, paths), sys.executable, os.path.realpath(sys.executable), str(self.scratch)]:
            blocked = _blocked_ancestor(os.path.realpath(path), uid, gid)
            if blocked:
                raise BuildFailed(
                    f"image build failed: build steps run as uid {uid}:{gid} (no mount namespaces on "
                    f"this host), which cannot reach {path}: {blocked} is closed to it. Make that "
                    f"directory traversable (o+x) or run the builder with CAP_SYS_ADMIN"
                )

    async def run(
        self,
        argv: Sequence[str],
        *,
        writable: Sequence[Path],
        on_line: LineSink,
        image_env: Mapping[str, str] | None = None,
        readable: Sequence[str | Path] = (),
    ) -> ProcessResult:
        """Runs `argv` sandboxed; `writable` directories (which must exist) are all it can change."""
        sandbox = self.sandbox
        proxy = await sandbox.egress_proxy(self.mode)
        # Credentials of this command's own: what the proxy refuses it goes into this command's log.
        token = proxy.open_session(on_line)
        try:
            env = build_env(
                sandbox.environ,
                image_env=image_env,
                home=self.scratch / "home",
                tmp=self.scratch / "tmp",
                cache=sandbox.cache_dir,
                proxy=proxy.url(token),
            )
            return await self._run(argv, env, writable=writable, on_line=on_line, readable=readable)
        finally:
            proxy.close_session(token)

    async def _run(
        self,
        argv: Sequence[str],
        env: dict[str, str],
        *,
        writable: Sequence[Path],
        on_line: LineSink,
        readable: Sequence[str | Path],
    ) -> ProcessResult:
        sandbox = self.sandbox
        if self.mode == NONE:
            return await run_streaming(argv, on_line=on_line, env=env, cwd=self.scratch)
        if self.mode == UID_ONLY:
            await asyncio.to_thread(self._check_reachable, [argv[0], *readable, *writable])
        config = await asyncio.to_thread(
            sandbox.config,
            self.mode,
            cwd=self.scratch,
            writable=[*writable, self.scratch, sandbox.cache_dir],
            readable=[argv[0], "/etc/resolv.conf", *(env[key] for key in _CA_PATHS if key in env), *readable],
        )
        wrapped = [sys.executable, "-I", "-S", str(EXEC_SCRIPT), json.dumps(config), *argv]
        return await run_streaming(wrapped, on_line=on_line, env=env, cwd=self.scratch)


def python_home(python: str) -> str:
    """The installation an interpreter belongs to (`/usr` for /usr/bin/python3.12), to keep readable."""
    return os.path.dirname(os.path.dirname(os.path.realpath(python)))


def namespaces_module() -> Path:
    return Path(berth.__file__).resolve().parent / "_runtime" / "namespaces.py"


async def uv(
    session: Session,
    args: Sequence[str],
    *,
    writable: Sequence[Path],
    on_line: LineSink,
    image_env: Mapping[str, str] | None = None,
    readable: Sequence[str | Path] = (),
) -> ProcessResult:
    """`uv <args>` in the session's sandbox."""
    return await session.run(
        [uv_bin(), *args], writable=writable, on_line=on_line, image_env=image_env, readable=readable
    )


async def _probe() -> str:
    global _probed
    if _probed is None:
        lines: list[str] = []
        try:
            result = await run_streaming(
                [sys.executable, "-I", "-S", str(EXEC_SCRIPT), "--probe", str(namespaces_module())],
                on_line=lines.append,
                env={"PATH": os.environ.get("PATH", os.defpath)},
            )
            answer = lines[-1].strip() if result.returncode == 0 and lines else ""
        except OSError:
            answer = ""
        if answer not in MODES:
            answer = UID_ONLY if os.geteuid() == 0 else NONE
        _probed = answer
    return _probed


def _warn_egress_once(why: str, uid: int, port: int, policy: IndexPolicy) -> None:
    global _egress_warned
    if _egress_warned:
        return
    _egress_warned = True
    if not why:
        log.info(
            f"build network: uid {uid} reaches only the egress proxy on 127.0.0.1:{port} (nftables), "
            f"which opens connections to package indexes only ({policy.describe_endpoints()})"
        )
        return
    log.warning(
        f"BUILD NETWORK ONLY PARTLY FILTERED: builds get the egress proxy on 127.0.0.1:{port} "
        f"(package indexes only: {policy.describe_endpoints()}) in their proxy settings, which uv "
        f"honours, but the firewall that makes it their only way out is not installed ({why}): a "
        "build backend that ignores the proxy settings can reach any host the builder can"
    )


def _warn_once(mode: str, uid: int, gid: int, exposed: Sequence[str] = ()) -> None:
    global _warned
    if _warned:
        return
    _warned = True
    if mode == NAMESPACES:
        log.info(f"builds run sandboxed: mount, pid and IPC namespaces, as uid {uid}:{gid}")
    elif mode == USERNS:
        log.info("builds run sandboxed in a user namespace (as the builder's own uid outside it)")
    elif mode == UID_ONLY:
        log.warning(
            f"BUILDS ARE ONLY PARTLY ISOLATED: no mount namespaces here (a container without "
            f"CAP_SYS_ADMIN?), so build steps run as uid {uid}:{gid} with a scrubbed environment "
            "but see the builder's file system (whatever that uid can read, including the Docker "
            "socket if its permissions allow)"
            + (f"; READABLE TO BUILDS: {', '.join(exposed)} (make them 0600/0400)" if exposed else "")
        )
    else:
        log.warning(
            "BUILDS ARE NOT ISOLATED: the builder is not root and cannot make user namespaces, so "
            "tenant setup.py/build backends run as the builder's own user with a scrubbed "
            "environment only, and can read every file the builder can (including $BERTH_HOME)"
        )
