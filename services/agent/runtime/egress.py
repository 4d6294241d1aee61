"""What process-runtime containers may not connect to: this host, link-local addresses, Docker.

On the process runtime a container (other than a web_server, which has a network namespace of its
own) shares the host's network. Run as root, the agent gives each container a uid from the range
of `UidRange` (services/agent/runtime/process.py), and the kernel tags every socket with its
owner's uid, so one nftables table can stop every container of every agent on the host, and
nothing else, from reaching:

- the host's own addresses (`fib daddr type local`: loopback, every interface's address), where
  the bus, the deploy API, the builder and other daemons listen; broadcast and multicast too;
- link-local addresses (169.254.0.0/16, fe80::/10) and AWS's IPv6 metadata address, where cloud
  metadata services hand out credentials;
- anything routed onto a Docker bridge (`docker0`, `br-*`, the Docker runtime's `berth*`): other
  tenants' Docker containers, whose addresses are not the host's own.

Connections there are rejected (a TCP reset, an ICMP error otherwise), so `connect` fails at once
with ECONNREFUSED (EPERM for datagrams), never a hang. DNS to the nameservers of /etc/resolv.conf
stays open (a local resolver such as 127.0.0.53 answers on the host's loopback), and so does the
OpenTelemetry collector the agent hands its containers (OTEL_EXPORTER_OTLP_*ENDPOINT), so the
runner's spans still arrive when the collector is local, and whatever the operator lists in
BERTH_EGRESS_ALLOW (`host:port`, e.g. the edge, for apps that call other apps through it). The
internet is untouched.

The table (`inet berth_egress`) is the same for every agent on the host (same uid range, same
resolv.conf): each agent replaces it atomically at start (`nft -f`, one transaction), and leaves
it in place when it exits. Removing it then would unprotect the containers of any other agent
still running, and it matches only uids that belong to no one but containers, so it costs nothing
while no container runs. An agent's own exceptions (its collector) live in the `allow` chain
tagged with its pid, are removed when it exits, and are pruned by the next agent to start if it
died without doing so.

The chain hooks output at priority -150, before NAT, so a connection is judged by the address the
container asked for: Docker's published ports (DNAT from the host's addresses) stay refused, and
Docker's embedded DNS (127.0.0.11:53, DNAT to another port) stays reachable.

Without root there are no per-container uids to match (a user namespace maps containers to the
agent's own uid) and no nft: the host's network stays reachable, and `Capabilities.describe` says
so. Where nft is missing or fails, the agent logs it loudly and carries on unfiltered.
"""

from __future__ import annotations

import atexit
import fnmatch
import ipaddress
import logging
import os
import socket
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from services.common import nft
from services.common.hostport import split_host_port

log = logging.getLogger("berth.agent")

FAMILY = "inet"
TABLE = "berth_egress"
ALLOW_CHAIN = "allow"
# Before NAT (dstnat is -100): the destination as the container asked for it.
PRIORITY = -150
LINK_LOCAL = ("169.254.0.0/16", "fe80::/10")
# Not link-local, but a metadata service all the same (AWS's, over IPv6).
METADATA = ("fd00:ec2::254",)
# Interfaces of Docker networks: the default bridge, user-defined ones, the Docker runtime's own.
DOCKER_BRIDGES = ("docker0", "br-*", "berth*")
_TRACING_ENDPOINTS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
# More of this host's services containers may reach, `host:port` each (the edge, for apps that call
# other apps): the operator's choice, for services that expect strangers anyway.
ALLOW_ENV = "BERTH_EGRESS_ALLOW"


@dataclass(frozen=True)
class Opening:
    """One address and TCP port containers may reach even though it is the host's own."""

    address: str
    port: int

    def rule(self) -> str:
        family = "ip6" if ipaddress.ip_address(self.address).version == 6 else "ip"
        return f"{family} daddr {self.address} tcp dport {self.port} accept"


def ruleset(
    first_uid: int,
    last_uid: int,
    *,
    nameservers: Sequence[str] = (),
    uplinks: Sequence[str] = (),
    table: str = TABLE,
) -> str:
    """The table's shared chains as one `nft -f` script: creates what is missing, then replaces
    every rule but the `allow` chain's (other agents' exceptions), in one transaction.

    `uplinks` are the interfaces of the host's default routes: one named like a Docker bridge
    (an OpenStack `br-ex`) is the way to the internet, not to containers, and stays open."""
    t = f"{FAMILY} {table}"
    bridges = _names(DOCKER_BRIDGES)
    spared = sorted({name for name in uplinks if any(fnmatch.fnmatchcase(name, p) for p in DOCKER_BRIDGES)})
    except_uplinks = f" oifname != {{ {_names(spared)} }}" if spared else ""
    lines = [
        f"add table {t}",
        f"add chain {t} {ALLOW_CHAIN}",
        f"add chain {t} refuse",
        f"add chain {t} containers",
        f"add chain {t} output {{ type filter hook output priority {PRIORITY}; policy accept; }}",
        f"flush chain {t} output",
        f"flush chain {t} containers",
        f"flush chain {t} refuse",
        # Only sockets of container uids; packets the kernel sends on its own (resets, ICMP) have
        # no owner and are never matched.
        f"add rule {t} output meta skuid {first_uid}-{last_uid} jump containers",
        f"add rule {t} containers jump {ALLOW_CHAIN}",
    ]
    for server in nameservers:
        family = "ip6" if ipaddress.ip_address(server).version == 6 else "ip"
        dns = f"{family} daddr {server} meta l4proto {{ tcp, udp }} th dport 53"
        lines.append(f"add rule {t} containers {dns} accept")
    lines += [
        f"add rule {t} containers fib daddr type {{ local, broadcast, multicast }} jump refuse",
        f"add rule {t} containers ip daddr {LINK_LOCAL[0]} jump refuse",
        f"add rule {t} containers ip6 daddr {{ {', '.join((LINK_LOCAL[1], *METADATA))} }} jump refuse",
        f"add rule {t} containers oifname {{ {bridges} }}{except_uplinks} jump refuse",
        # A reset makes connect() fail with ECONNREFUSED at once; anything else gets an ICMP error.
        f"add rule {t} refuse meta l4proto tcp reject with tcp reset",
        f"add rule {t} refuse reject with icmpx admin-prohibited",
    ]
    return "\n".join(lines) + "\n"


def _names(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def allow_script(openings: Iterable[Opening], comment: str, *, table: str = TABLE) -> str:
    """Rules letting containers reach `openings`, tagged with their owner (`nft.owner_comment`)."""
    chain = f"{FAMILY} {table} {ALLOW_CHAIN}"
    return "".join(f'add rule {chain} {opening.rule()} comment "{comment}"\n' for opening in openings)


def nameservers(resolv_conf: str) -> list[str]:
    """The IP addresses of resolv.conf's `nameserver` lines (an IPv6 zone dropped), in order."""
    found: list[str] = []
    for line in resolv_conf.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and words[0] == "nameserver":
            try:
                address = str(ipaddress.ip_address(words[1].split("%", 1)[0]))
            except ValueError:
                continue
            if address not in found:
                found.append(address)
    return found


def uplinks(route: str = "", ipv6_route: str = "") -> list[str]:
    """Interfaces holding a default route, from /proc/net/route and /proc/net/ipv6_route texts."""
    found: list[str] = []
    for line in route.splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
            found.append(fields[0])
    for line in ipv6_route.splitlines():
        fields = line.split()
        # A default route with a gateway (RTF_GATEWAY), not the kernel's unreachable one on lo.
        if len(fields) >= 10 and set(fields[0]) == {"0"} and fields[1] == "00" and int(fields[8], 16) & 0x2:
            found.append(fields[9])
    return list(dict.fromkeys(name for name in found if name != "lo"))


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def tracing_openings(environ: Mapping[str, str]) -> list[Opening]:
    """Where the runner exports spans (the collector URLs the agent's environment names), as
    addresses and ports: containers must reach them even when they are this host's."""
    found: list[Opening] = []
    for key in _TRACING_ENDPOINTS:
        url = environ.get(key, "")
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port
        except ValueError:
            continue
        if not host:
            continue
        port = port or (443 if parts.scheme == "https" else 80)
        for address in _addresses(host):
            opening = Opening(address, port)
            if opening not in found:
                found.append(opening)
    return found


def configured_openings(text: str) -> list[Opening]:
    """BERTH_EGRESS_ALLOW: `host:port` entries (`[v6]:port` too), comma or space separated."""
    found: list[Opening] = []
    for entry in text.replace(",", " ").split():
        parsed = split_host_port(entry)
        if parsed is None:
            log.warning("%s: ignoring %r (expected host:port)", ALLOW_ENV, entry)
            continue
        host, port = parsed
        found += [Opening(address, port) for address in _addresses(host)]
    return list(dict.fromkeys(found))


def _addresses(host: str) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return list(dict.fromkeys(str(ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])) for info in infos))


@dataclass
class EgressFilter:
    """The outcome of `install`: whether containers' local and metadata egress is filtered."""

    filtered: bool
    reason: str = ""  # why not, when not
    comment: str = ""

    def remove_own(self) -> None:
        """Removes this agent's exceptions; the shared table stays (see the module docstring)."""
        if self.filtered and self.comment:
            nft.delete_rules(FAMILY, TABLE, ALLOW_CHAIN, comment=self.comment)
            self.comment = ""


def install(
    first_uid: int,
    last_uid: int,
    *,
    environ: Mapping[str, str] | None = None,
    resolv_conf: Path = Path("/etc/resolv.conf"),
) -> EgressFilter:
    """Installs the table for container uids first_uid..last_uid; never raises. A failure is
    logged loudly and returned (containers then reach the host's network unfiltered)."""
    env = os.environ if environ is None else environ
    try:
        servers = nameservers(resolv_conf.read_text())
    except OSError:
        servers = []
    comment = nft.owner_comment("agent")
    links = uplinks(_read("/proc/net/route"), _read("/proc/net/ipv6_route"))
    script = ruleset(first_uid, last_uid, nameservers=servers, uplinks=links)
    openings = list(dict.fromkeys(tracing_openings(env) + configured_openings(env.get(ALLOW_ENV, ""))))
    try:
        try:
            nft.run(script + allow_script(openings, comment))
        except nft.NftError as first:
            if nft.binary() is None:
                raise
            # A table of an older layout (another hook priority): replace it whole, even though
            # other agents' exceptions go with it.
            log.warning("replacing nftables table %s %s: %s", FAMILY, TABLE, first)
            fresh = f"add table {FAMILY} {TABLE}\ndelete table {FAMILY} {TABLE}\n"
            nft.run(fresh + script + allow_script(openings, comment))
    except nft.NftError as exc:
        log.warning(
            "CONTAINERS CAN REACH THIS HOST'S OWN SERVICES AND LINK-LOCAL METADATA ADDRESSES: the egress "
            "filter could not be installed (%s). The bus and the API still need credentials containers "
            "cannot read, but any other local daemon is exposed",
            exc,
        )
        return EgressFilter(filtered=False, reason=str(exc))
    nft.prune_dead(FAMILY, TABLE, ALLOW_CHAIN)
    installed = EgressFilter(filtered=True, comment=comment if openings else "")
    if openings:
        atexit.register(installed.remove_own)
    log.info(
        "egress filter installed for container uids %d-%d (nft table %s %s); open: DNS to %s, collector %s",
        first_uid,
        last_uid,
        FAMILY,
        TABLE,
        ", ".join(servers) or "none",
        ", ".join(f"{o.address}:{o.port}" for o in openings) or "none",
    )
    return installed
