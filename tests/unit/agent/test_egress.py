"""The egress filter of process-runtime containers: the nftables script the agent applies, what it
reads from the host (resolv.conf, routes, the tracing collector), and, as root, the script applied
in a network namespace of the test's own, where a process with a container's uid is refused this
host while the agent's own exceptions stay open."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from services.agent.runtime import egress
from services.agent.runtime.base import Capabilities, Isolation
from services.agent.runtime.process import UidRange
from services.common import nft

FIRST = UidRange.BASE
LAST = UidRange.BASE + UidRange.BLOCKS * UidRange.SIZE - 1


def test_the_ruleset_matches_every_container_uid_and_refuses_this_host_link_local_and_docker() -> None:
    script = egress.ruleset(FIRST, LAST, nameservers=["127.0.0.53"]).splitlines()
    t = "inet berth_egress"
    assert f"add rule {t} output meta skuid 1073741824-1610612735 jump containers" in script
    # Exceptions first, then DNS to the configured resolver, then the refusals.
    rules = [line for line in script if line.startswith(f"add rule {t} containers ")]
    assert rules[0].endswith("jump allow")
    assert "ip daddr 127.0.0.53 meta l4proto { tcp, udp } th dport 53 accept" in rules[1]
    refused = " ".join(rules[2:])
    assert "fib daddr type { local, broadcast, multicast } jump refuse" in refused
    assert "ip daddr 169.254.0.0/16 jump refuse" in refused
    assert "ip6 daddr { fe80::/10, fd00:ec2::254 } jump refuse" in refused
    assert 'oifname { "docker0", "br-*", "berth*" } jump refuse' in refused
    # A reset for TCP (ECONNREFUSED at once), an ICMP error for the rest: nothing hangs.
    assert f"add rule {t} refuse meta l4proto tcp reject with tcp reset" in script
    assert f"add rule {t} refuse reject with icmpx admin-prohibited" in script


def test_the_ruleset_replaces_its_own_chains_but_keeps_other_agents_exceptions() -> None:
    script = egress.ruleset(FIRST, LAST)
    assert "flush chain inet berth_egress output" in script
    assert "flush chain inet berth_egress containers" in script
    assert "flush chain inet berth_egress allow" not in script
    assert "delete table" not in script
    # Judged before NAT (dstnat is -100): the address the container asked for.
    assert "type filter hook output priority -150; policy accept;" in script
    # Every chain is created before it is flushed or filled: the script works on a bare host.
    lines = script.splitlines()
    assert lines.index(
        "add chain inet berth_egress output { type filter hook output priority -150; policy accept; }"
    ) < lines.index("flush chain inet berth_egress output")


def test_an_uplink_named_like_a_docker_bridge_stays_open() -> None:
    script = egress.ruleset(FIRST, LAST, uplinks=["br-ex", "eth0"])
    assert 'oifname { "docker0", "br-*", "berth*" } oifname != { "br-ex" } jump refuse' in script


def test_exceptions_are_tagged_with_their_owner() -> None:
    openings = [egress.Opening("127.0.0.1", 4318), egress.Opening("::1", 4318)]
    script = egress.allow_script(openings, "berth-agent pid 42")
    assert script.splitlines() == [
        f'add rule inet berth_egress allow {rule} accept comment "berth-agent pid 42"'
        for rule in ("ip daddr 127.0.0.1 tcp dport 4318", "ip6 daddr ::1 tcp dport 4318")
    ]


def test_nameservers_are_the_addresses_of_resolv_conf() -> None:
    text = "# generated\nsearch x\nnameserver 127.0.0.53\nnameserver fe80::1%eth0 # zone\nnameserver bogus\n"
    assert egress.nameservers(text) == ["127.0.0.53", "fe80::1"]


def test_uplinks_are_the_interfaces_of_default_routes() -> None:
    route = (
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    )
    ipv6 = (
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "fd000000000000000000000000000001 00000400 00000002 00000000 00000003     br-ex\n"
        "00000000000000000000000000000000 00 00000000000000000000000000000000 00 "
        "00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo\n"
    )
    assert egress.uplinks(route, ipv6) == ["eth0", "br-ex"]


def test_the_tracing_collector_is_an_exception() -> None:
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://[::1]/v1/traces",
    }
    assert egress.tracing_openings(env) == [egress.Opening("127.0.0.1", 4318), egress.Opening("::1", 443)]
    assert egress.tracing_openings({}) == []
    assert egress.tracing_openings({"OTEL_EXPORTER_OTLP_ENDPOINT": "not a url"}) == []


def test_the_operator_may_open_more_of_this_host() -> None:
    assert egress.configured_openings("127.0.0.1:8000, [::1]:8000 bogus") == [
        egress.Opening("127.0.0.1", 8000),
        egress.Opening("::1", 8000),
    ]


def test_the_agent_line_says_whether_egress_is_filtered() -> None:
    filtered = Capabilities(isolation=Isolation.NAMESPACES, network_namespaces=True, egress_filtered=True)
    assert "own and link-local (metadata) addresses are refused" in filtered.describe()
    unfiltered = Capabilities(isolation=Isolation.USER_NAMESPACE, network_namespaces=False)
    assert "share the host's network UNFILTERED" in unfiltered.describe()
    docker = Capabilities(isolation=Isolation.CONTAINER, network_namespaces=True)
    assert docker.describe() == "containers are isolated: a container each"


# Runs in a network namespace of its own (nothing of the host's firewall is touched): applies the
# script twice (idempotent), then a child with a container's uid tries loopback and the exception.
_IN_NAMESPACE = textwrap.dedent(
    """
    import encodings.idna, json, os, socket, subprocess, sys  # idna: before the uid cannot read it
    from berth._runtime.netns import enter_new_network_namespace
    script, uid = sys.argv[1], int(sys.argv[2])
    enter_new_network_namespace()
    for _ in range(2):
        subprocess.run(["nft", "-f", "-"], input=script, text=True, check=True)
    closed, opened = socket.socket(), socket.socket()
    closed.bind(("127.0.0.1", 0))
    opened.bind(("127.0.0.1", int(sys.argv[3])))
    for sock in (closed, opened):
        sock.listen()
    child = os.fork()
    if child == 0:
        os.setgid(uid)
        os.setuid(uid)
        out = {}
        for name, sock in (("closed", closed), ("opened", opened)):
            try:
                socket.create_connection(sock.getsockname(), timeout=3).close()
                out[name] = "connected"
            except OSError as exc:
                out[name] = exc.strerror or str(exc)
        try:
            socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("127.0.0.1", 53))
            out["udp"] = "sent"
        except OSError as exc:
            out["udp"] = exc.strerror
        os.write(1, json.dumps(out).encode())
        os._exit(0)
    os.waitpid(child, 0)
    """
)


@pytest.mark.skipif(os.geteuid() != 0 or nft.binary() is None, reason="needs root and nft")
def test_applied_in_a_namespace_a_container_uid_is_refused_this_host_but_not_its_exceptions() -> None:
    port = 4318  # free in a namespace of its own
    table = "berth_egress_test"
    script = egress.ruleset(FIRST, LAST, table=table) + egress.allow_script(
        [egress.Opening("127.0.0.1", port)], "berth-agent pid 1", table=table
    )
    result = subprocess.run(
        [sys.executable, "-c", _IN_NAMESPACE, script, str(FIRST + 7), str(port)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PATH": f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin"},
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "closed": "Connection refused",
        "opened": "connected",
        "udp": "Operation not permitted",
    }
