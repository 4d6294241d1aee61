"""The only way out of a build: an HTTP proxy that opens connections to package indexes and nothing else.

The builder runs one on 127.0.0.1 (an ephemeral port) and build commands get it as HTTPS_PROXY,
HTTP_PROXY and ALL_PROXY (sandbox.py), which uv, pip, git and most HTTP clients honour. It allows:

- `CONNECT host:port` to what the index policy admits (pip_args.IndexPolicy.admits: uv's default
  index, PyPI's two hosts on 443, plus the operator's allowed indexes); TLS runs end to end;
- plain-HTTP `GET`/`HEAD` in absolute form (`GET http://host:port/path`) only where the operator
  allowed an http:// index (or the bare host name);
- Debian's mirrors (deb.debian.org, security.debian.org; plain HTTP on 80 and HTTPS on 443) for
  apt in Docker-runtime build steps, unless the operator's allow-list replaces the default;
- with the policy `*`, any host on 443 (or 80 for plain HTTP), as long as it is no address of this
  host, loopback or link-local.

Anything else is answered 403 with one line, which also goes to the build's log:
`blocked: example.com:443 is not a package index (...)`. As root, an nftables rule
(egress_firewall.py) lets the build uid connect to this port and nothing else, so a build backend
that ignores the proxy settings gets a refused connection instead of the internet.

Each build command gets its own proxy credentials (`http://<token>:x@127.0.0.1:<port>`): clients
send them as Proxy-Authorization, and the proxy writes what it blocked into that command's log.
They attribute, they do not authorise: a client that sends none is held to the same policy and
its refusals go to the builder's own log only.

When the builder's own environment names a proxy (HTTPS_PROXY / HTTP_PROXY / ALL_PROXY, honouring
NO_PROXY), allowed connections go through it: a CONNECT to it for tunnels, the absolute-form
request for plain HTTP. Only http:// upstream proxies are supported; with any other scheme the
connection is refused with a 502 saying so.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import ipaddress
import logging
import os
import secrets
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.builder.pip_args import ALLOWED_INDEXES_ENV, IndexPolicy
from services.common.hostport import split_host_port

log = logging.getLogger("berth.builder")

LineSink = Callable[[str], None]
HEAD_LIMIT = 16 << 10
HEAD_TIMEOUT = 30.0
CONNECT_TIMEOUT = 30.0
_CHUNK = 64 << 10
_PLAIN_METHODS = ("GET", "HEAD")


@dataclass(frozen=True)
class Request:
    """What a client asked the proxy for."""

    method: str
    host: str
    port: int
    tls: bool  # a CONNECT tunnel
    target: str  # as sent: `host:port` or the absolute URL


class BadRequest(Exception):
    """A request the proxy does not speak (answered 400/405 with this message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_request_line(line: str) -> Request:
    """`CONNECT host:port HTTP/1.1` or `GET http://host[:port]/path HTTP/1.1`."""
    parts = line.split()
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise BadRequest(400, "not an HTTP/1.x request line")
    method, target = parts[0].upper(), parts[1]
    if method == "CONNECT":
        address = split_host_port(target)
        if address is None:
            raise BadRequest(400, f"CONNECT needs host:port, got {target!r}")
        return Request(method, address[0], address[1], True, target)
    if method not in _PLAIN_METHODS:
        raise BadRequest(405, f"method {method} is not allowed (CONNECT, or GET/HEAD for http:// indexes)")
    try:
        parsed = urlsplit(target)
        host, port = parsed.hostname, parsed.port
    except ValueError:
        host, port = None, None
    if parsed.scheme.lower() != "http" or not host:
        raise BadRequest(400, f"expected an absolute http:// URL, got {target!r}")
    return Request(method, host.lower(), port or 80, False, target)


def decide(policy: IndexPolicy, request: Request) -> str:
    """ "" when `request` may go out, else why not (the line written to the build's log)."""
    where = f"{request.host}:{request.port}"
    if policy.admits(request.host, request.port, tls=request.tls):
        return ""
    if not request.tls and policy.admits(request.host, 443, tls=True):
        return f"blocked: plain HTTP to {where}: package indexes are reached over HTTPS"
    return (
        f"blocked: {where} is not a package index "
        f"(allowed: {policy.describe_endpoints()}; the operator allows more with {ALLOWED_INDEXES_ENV})"
    )


def forbidden_address(address: str) -> bool:
    """Loopback, link-local, unspecified or multicast: never a package index behind `*`."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast


@dataclass(frozen=True)
class Upstream:
    """The operator's own proxies, from the builder's environment."""

    https: str = ""
    http: str = ""
    no_proxy: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> Upstream:
        def first(*names: str) -> str:
            return next((environ[n] for n in names if environ.get(n)), "")

        every = first("ALL_PROXY", "all_proxy")
        excluded = first("NO_PROXY", "no_proxy")
        return cls(
            https=first("HTTPS_PROXY", "https_proxy") or every,
            http=first("HTTP_PROXY", "http_proxy") or every,
            no_proxy=tuple(w.strip().lower() for w in excluded.replace(",", " ").split() if w.strip()),
        )

    def for_request(self, request: Request) -> str:
        """The upstream proxy URL for `request`, or "" to connect directly."""
        url = self.https if request.tls else self.http
        if not url:
            return ""
        for entry in self.no_proxy:
            if entry == "*":
                return ""
            bare = entry.lstrip(".").rsplit(":", 1)[0] if not entry.startswith("[") else entry
            if request.host == bare or request.host.endswith("." + bare):
                return ""
        return url


class EgressProxy:
    """The proxy server (see the module docstring); one per builder process and event loop."""

    def __init__(
        self, policy: IndexPolicy, upstream: Upstream | None = None, *, host: str = "127.0.0.1"
    ) -> None:
        self.policy = policy
        self.upstream = upstream or Upstream()
        self.host = host
        self.port = 0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._sinks: dict[str, LineSink] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=HEAD_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]
        self.loop = asyncio.get_running_loop()
        return self.port

    async def serve_unix(self, path: str) -> asyncio.Server:
        """The same proxy on a Unix socket at `path` (for build containers without a network, see
        container_steps.py); the caller closes the server it gets."""
        server = await asyncio.start_unix_server(self._serve, path=path, limit=HEAD_LIMIT)
        os.chmod(path, 0o666)  # the container's processes, whatever their uid
        return server

    @property
    def serving(self) -> bool:
        return self._server is not None and self._server.is_serving()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def open_session(self, sink: LineSink) -> str:
        """A token for one build command: what the proxy blocks for it goes to `sink`."""
        token = secrets.token_hex(12)
        self._sinks[token] = sink
        return token

    def close_session(self, token: str) -> None:
        self._sinks.pop(token, None)

    def url(self, token: str = "") -> str:
        credentials = f"{token}:x@" if token else ""
        return f"http://{credentials}{self.host}:{self.port}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await self._handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError):
            pass  # a client that went away or sent garbage: nothing to tell anyone
        finally:
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        lines = await asyncio.wait_for(_read_head(reader), HEAD_TIMEOUT)
        headers = lines[1:]
        sink = self._sinks.get(_token(headers))
        try:
            request = parse_request_line(lines[0])
        except BadRequest as exc:
            self._report(f"blocked: {exc}", sink)
            await _answer(writer, exc.status, str(exc))
            return
        why = decide(self.policy, request)
        upstream = self.upstream.for_request(request)
        if not why and "*" in self.policy.hosts and not upstream:
            why = await _local_destination(request)
        if why:
            self._report(why, sink)
            await _answer(writer, 403, why)
            return
        try:
            remote_reader, remote_writer = await self._open(request, upstream)
        except (OSError, TimeoutError, BadRequest) as exc:
            message = f"proxy: cannot reach {request.host}:{request.port}: {exc or type(exc).__name__}"
            self._report(message, sink)
            await _answer(writer, 502, message)
            return
        try:
            if request.tls:
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                remote_writer.write(_forwarded_head(lines[0], headers, request, via_proxy=bool(upstream)))
            await writer.drain()
            await _pipe_both(reader, writer, remote_reader, remote_writer)
        finally:
            remote_writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await remote_writer.wait_closed()

    async def _open(
        self, request: Request, upstream: str
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if not upstream:
            return await asyncio.wait_for(
                asyncio.open_connection(request.host, request.port), CONNECT_TIMEOUT
            )
        parts = urlsplit(upstream)
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise BadRequest(502, f"the builder's upstream proxy {parts.scheme}://… is not an http:// proxy")
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(parts.hostname, parts.port or 80), CONNECT_TIMEOUT
        )
        if not request.tls:
            return reader, writer  # the absolute-form request goes to it as is
        auth = ""
        if parts.username:
            pair = f"{parts.username}:{parts.password or ''}".encode()
            auth = f"Proxy-Authorization: Basic {base64.b64encode(pair).decode()}\r\n"
        target = f"{request.host}:{request.port}"
        writer.write(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{auth}\r\n".encode())
        await writer.drain()
        status = (await asyncio.wait_for(_read_head(reader), CONNECT_TIMEOUT))[0]
        if len(status.split()) < 2 or status.split()[1] != "200":
            writer.close()
            raise BadRequest(502, f"the upstream proxy answered {status!r}")
        return reader, writer

    def _report(self, line: str, sink: LineSink | None) -> None:
        log.warning("build egress %s", line)
        if sink is not None:
            sink(line)


async def _read_head(reader: asyncio.StreamReader) -> list[str]:
    """The request line and header lines, up to the empty line; a bare LF ends a line too
    (RFC 9112 allows it, and setuptools turns `\\r\\n` in a setup.py into `\\n`)."""
    lines: list[str] = []
    size = 0
    while True:
        line = await reader.readline()
        size += len(line)
        if not line or size > HEAD_LIMIT:
            raise ValueError("no complete request head")
        text = line.decode("latin-1").rstrip("\r\n")
        if not text:
            if lines:
                return lines
            continue  # empty lines before the request line are ignored (RFC 9112)
        lines.append(text)


def _token(headers: list[str]) -> str:
    for header in headers:
        name, _, value = header.partition(":")
        if name.strip().lower() == "proxy-authorization":
            scheme, _, encoded = value.strip().partition(" ")
            if scheme.lower() == "basic":
                try:
                    return base64.b64decode(encoded.strip(), validate=True).decode().split(":", 1)[0]
                except (ValueError, UnicodeDecodeError):
                    return ""
    return ""


async def _local_destination(request: Request) -> str:
    """Why `*` does not open this connection (a name of this host, loopback or link-local), or ""."""
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(request.host, request.port, proto=socket.IPPROTO_TCP)
    except OSError:
        return ""  # the connection attempt will say it cannot resolve
    if any(forbidden_address(str(info[4][0])) for info in infos):
        return f"blocked: {request.host}:{request.port} is a loopback or link-local address"
    return ""


def _forwarded_head(request_line: str, headers: list[str], request: Request, *, via_proxy: bool) -> bytes:
    """A plain-HTTP request as the origin (or the upstream proxy) gets it: one request per
    connection, without the proxy's own headers."""
    if via_proxy:
        line = request_line
    else:
        method, target, version = request_line.split()
        parts = urlsplit(target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        line = f"{method} {path} {version}"
    dropped = ("proxy-authorization", "proxy-connection", "connection", "keep-alive")
    kept = [h for h in headers if h.partition(":")[0].strip().lower() not in dropped]
    return ("\r\n".join([line, *kept, "Connection: close"]) + "\r\n\r\n").encode("latin-1")


async def _pipe_both(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    remote_reader: asyncio.StreamReader,
    remote_writer: asyncio.StreamWriter,
) -> None:
    async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while chunk := await source.read(_CHUNK):
                sink.write(chunk)
                await sink.drain()
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                if sink.can_write_eof():
                    sink.write_eof()

    await asyncio.gather(pipe(reader, remote_writer), pipe(remote_reader, writer))


async def _answer(writer: asyncio.StreamWriter, status: int, message: str) -> None:
    reason = {400: "Bad Request", 403: "Forbidden", 405: "Method Not Allowed", 502: "Bad Gateway"}[status]
    body = (message + "\n").encode()
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        + body
    )
    with contextlib.suppress(OSError):
        await writer.drain()
