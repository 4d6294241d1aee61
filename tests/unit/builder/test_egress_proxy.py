"""The builder's egress proxy: what it lets a build connect to, and the proxy itself on real sockets
(a local TCP echo server stands in for a package index, a second proxy for the operator's own)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from services.builder import egress_firewall
from services.builder.egress_proxy import (
    BadRequest,
    EgressProxy,
    Request,
    Upstream,
    decide,
    forbidden_address,
    parse_request_line,
)
from services.builder.pip_args import IndexPolicy

PYPI = IndexPolicy.from_env({})
TIMEOUT = 10.0


def connect(host: str, port: int) -> Request:
    return Request("CONNECT", host, port, True, f"{host}:{port}")


def test_request_lines() -> None:
    assert parse_request_line("CONNECT pypi.org:443 HTTP/1.1") == connect("pypi.org", 443)
    assert parse_request_line("CONNECT [::1]:8443 HTTP/1.1") == replace(
        connect("::1", 8443), target="[::1]:8443"
    )
    plain = parse_request_line("GET http://Index.Local:3141/simple/six/ HTTP/1.1")
    assert (plain.method, plain.host, plain.port, plain.tls) == ("GET", "index.local", 3141, False)
    for line, status in [
        ("POST http://pypi.org/ HTTP/1.1", 405),
        ("GET /simple/ HTTP/1.1", 400),
        ("CONNECT pypi.org HTTP/1.1", 400),
        ("GET ftp://pypi.org/ HTTP/1.1", 400),
        ("garbage", 400),
    ]:
        with pytest.raises(BadRequest) as caught:
            parse_request_line(line)
        assert caught.value.status == status, line


def test_only_package_indexes_on_their_ports_are_allowed() -> None:
    assert decide(PYPI, connect("pypi.org", 443)) == ""
    assert decide(PYPI, connect("files.pythonhosted.org", 443)) == ""
    assert decide(PYPI, connect("PyPI.org.", 443)) == ""
    refused = decide(PYPI, connect("example.com", 443))
    assert refused.startswith("blocked: example.com:443 is not a package index")
    assert "(allowed: files.pythonhosted.org:443, pypi.org:443, deb.debian.org:443," in refused
    assert "BERTH_BUILD_ALLOWED_INDEXES" in refused
    assert decide(PYPI, connect("pypi.org", 22)).startswith("blocked: pypi.org:22 is not a package index")
    plain = parse_request_line("GET http://pypi.org/simple/ HTTP/1.1")
    assert decide(PYPI, plain) == "blocked: plain HTTP to pypi.org:80: package indexes are reached over HTTPS"


def test_the_operators_indexes_are_allowed_as_given() -> None:
    policy = IndexPolicy.from_env(
        {"BERTH_BUILD_ALLOWED_INDEXES": "http://devpi.local:3141/root/simple mirror.internal:8443"}
    )
    assert decide(policy, parse_request_line("GET http://devpi.local:3141/root/simple/six/ HTTP/1.1")) == ""
    assert decide(policy, connect("devpi.local", 3141)) != "", "an http:// index is not a tunnel"
    assert decide(policy, connect("mirror.internal", 8443)) == ""
    assert decide(policy, connect("mirror.internal", 443)) != ""
    # uv still fetches plain requirements from PyPI, its default index...
    assert decide(policy, connect("pypi.org", 443)) == ""
    assert decide(policy, connect("pypi.org", 8443)) != ""
    # ...unless the operator names their own.
    own = IndexPolicy.from_env({"UV_DEFAULT_INDEX": "https://corp.example/simple"})
    assert decide(own, connect("corp.example", 443)) == ""
    assert decide(own, connect("pypi.org", 443)).startswith("blocked: pypi.org:443 is not a package index")
    uv_index = IndexPolicy.from_env({"UV_INDEX": "corp=https://corp.example/simple"})
    assert decide(uv_index, connect("corp.example", 443)) == ""
    # A bare host name in the allow-list is trusted the way pip_install URLs are: any port, either way.
    bare = IndexPolicy.from_env({"BERTH_BUILD_ALLOWED_INDEXES": "wheels.internal"})
    assert decide(bare, parse_request_line("GET http://wheels.internal:8080/x.whl HTTP/1.1")) == ""
    assert decide(bare, connect("wheels.internal", 9443)) == ""


def test_any_host_means_standard_ports_only() -> None:
    anything = IndexPolicy.from_env({"BERTH_BUILD_ALLOWED_INDEXES": "*"})
    assert decide(anything, connect("example.com", 443)) == ""
    assert decide(anything, connect("example.com", 4222)) != ""
    assert all(
        map(forbidden_address, ["127.0.0.1", "::1", "169.254.169.254", "fe80::1%eth0", "::ffff:127.0.0.1"])
    )
    assert not any(map(forbidden_address, ["151.101.0.223", "10.0.0.5", "2a04:4e42::223"]))


def test_the_operators_proxy_is_used_unless_no_proxy_says_otherwise() -> None:
    upstream = Upstream.from_env(
        {
            "HTTPS_PROXY": "http://proxy.corp:3128",
            "all_proxy": "http://all.corp:3128",
            "NO_PROXY": ".internal,pypi.org",
        }
    )
    assert upstream.for_request(connect("files.pythonhosted.org", 443)) == "http://proxy.corp:3128"
    assert (
        upstream.for_request(parse_request_line("GET http://x.example/ HTTP/1.1")) == "http://all.corp:3128"
    )
    assert upstream.for_request(connect("pypi.org", 443)) == ""
    assert upstream.for_request(connect("mirror.internal", 443)) == ""
    assert Upstream.from_env({}).for_request(connect("pypi.org", 443)) == ""


def test_the_firewall_lets_the_build_uid_reach_the_proxy_only() -> None:
    base = egress_firewall.base_script()
    output = [
        line for line in base.splitlines() if line.startswith("add rule inet berth_build_egress output")
    ]
    assert output == [f"add rule inet berth_build_egress output jump {chain}" for chain in ("allow", "deny")]
    assert "delete" not in base and "flush chain inet berth_build_egress allow" not in base
    rules = egress_firewall.owner_script(1073741823, 40123, "berth-builder pid 7").splitlines()
    assert rules == [
        "add rule inet berth_build_egress allow meta skuid 1073741823 ip daddr 127.0.0.1 tcp dport 40123 "
        'accept comment "berth-builder pid 7"',
        "add rule inet berth_build_egress deny meta skuid 1073741823 meta l4proto tcp reject with tcp reset "
        'comment "berth-builder pid 7"',
        "add rule inet berth_build_egress deny meta skuid 1073741823 reject with icmpx admin-prohibited "
        'comment "berth-builder pid 7"',
    ]
    assert egress_firewall.BuildFirewall().install(0, 1) != "", "uid 0 would be the builder itself"


# --- the proxy on real sockets -------------------------------------------------------------------


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while data := await reader.read(4096):
        writer.write(data)
        await writer.drain()
    writer.close()


async def _http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    body = head.split(b"\r\n", 1)[0]
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
    await writer.drain()
    writer.close()


@pytest.fixture
async def index() -> AsyncIterator[tuple[int, int]]:
    """(port of a TCP echo server, port of a plain-HTTP server) on loopback."""
    echo = await asyncio.start_server(_echo, "127.0.0.1", 0)
    http = await asyncio.start_server(_http, "127.0.0.1", 0)
    yield echo.sockets[0].getsockname()[1], http.sockets[0].getsockname()[1]
    for server in (echo, http):
        server.close()
        await server.wait_closed()


async def _ask(port: int, head: bytes) -> tuple[bytes, asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)
    writer.write(head)
    await writer.drain()
    status = await asyncio.wait_for(reader.readline(), TIMEOUT)
    while (await asyncio.wait_for(reader.readline(), TIMEOUT)).strip():
        pass
    return status, reader, writer


def _auth(token: str) -> bytes:
    return b"Proxy-Authorization: Basic " + base64.b64encode(f"{token}:x".encode()) + b"\r\n"


async def test_the_proxy_tunnels_to_an_index_and_refuses_the_rest(index: tuple[int, int]) -> None:
    echo, http = index
    policy = IndexPolicy.from_env(
        {"BERTH_BUILD_ALLOWED_INDEXES": f"127.0.0.1:{echo} http://127.0.0.1:{http}"}
    )
    proxy = EgressProxy(policy)
    await proxy.start()
    lines: list[str] = []
    token = proxy.open_session(lines.append)
    try:
        status, reader, writer = await _ask(proxy.port, f"CONNECT 127.0.0.1:{echo} HTTP/1.1\r\n\r\n".encode())
        assert status.startswith(b"HTTP/1.1 200")
        writer.write(b"through the tunnel")
        assert await asyncio.wait_for(reader.readexactly(18), TIMEOUT) == b"through the tunnel"
        writer.close()

        # A bare LF ends lines too (setuptools rewrites a setup.py's escaped CRLFs to LF).
        status, reader, writer = await _ask(
            proxy.port, b"CONNECT example.com:443 HTTP/1.1\n" + _auth(token).replace(b"\r\n", b"\n") + b"\n"
        )
        assert status.startswith(b"HTTP/1.1 403")
        assert (await asyncio.wait_for(reader.read(), TIMEOUT)).startswith(b"blocked: example.com:443")
        writer.close()
        assert len(lines) == 1 and lines[0].startswith("blocked: example.com:443 is not a package index")

        status, reader, writer = await _ask(
            proxy.port, f"GET http://127.0.0.1:{http}/simple/six/ HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        )
        assert status.startswith(b"HTTP/1.1 200")
        assert await asyncio.wait_for(reader.read(), TIMEOUT) == b"GET /simple/six/ HTTP/1.1"
        writer.close()

        proxy.close_session(token)
        status, _, writer = await _ask(
            proxy.port, b"CONNECT pypi.org:80 HTTP/1.1\r\n" + _auth(token) + b"\r\n"
        )
        assert status.startswith(b"HTTP/1.1 403") and len(lines) == 1, "a closed session logs nowhere"
        writer.close()
    finally:
        await proxy.close()


async def test_the_proxy_goes_through_the_operators_proxy(index: tuple[int, int]) -> None:
    echo, _ = index
    allowed = IndexPolicy.from_env({"BERTH_BUILD_ALLOWED_INDEXES": f"127.0.0.1:{echo}"})
    # The operator's proxy: another egress proxy, which logs what it is asked to open.
    operators = EgressProxy(IndexPolicy.from_env({"BERTH_BUILD_ALLOWED_INDEXES": "nothing.example"}))
    await operators.start()
    seen: list[str] = []
    operators_token = operators.open_session(seen.append)
    proxy = EgressProxy(allowed, Upstream(https=f"http://{operators_token}:x@127.0.0.1:{operators.port}"))
    await proxy.start()
    lines: list[str] = []
    token = proxy.open_session(lines.append)
    try:
        status, _, writer = await _ask(
            proxy.port, f"CONNECT 127.0.0.1:{echo} HTTP/1.1\r\n".encode() + _auth(token) + b"\r\n"
        )
        writer.close()
        # Allowed here, so asked upstream (with the upstream's credentials), which refused it.
        assert status.startswith(b"HTTP/1.1 502")
        assert seen and seen[0].startswith(f"blocked: 127.0.0.1:{echo} is not a package index")
        assert lines and "the upstream proxy answered 'HTTP/1.1 403 Forbidden'" in lines[0]
    finally:
        await proxy.close()
        await operators.close()
