"""The network app containers of the Docker runtime live on, and the host firewall around it.

Each agent home gets a bridge network of its own, `berth-apps-<owner>`, with inter-container
traffic off (`enable_icc=false`): a container reaches the outside world, never its neighbours.
The platform is not on it: `berth up` listens on 127.0.0.1 (the host's loopback, which no container
shares), and under Compose the services sit on the Compose network.

What a bridge alone leaves open is the host itself (its addresses on every interface, and ports
published on them) and link-local addresses such as cloud metadata services (169.254.169.254).
When the agent can, it closes those with a chain of its own, jumped to from INPUT (traffic to the
host) and DOCKER-USER (traffic the host forwards) for packets arriving from the app bridge:

    -d 169.254.0.0/16 -j DROP                      link-local, metadata services
    -m conntrack --ctstate DNAT -j DROP            ports published on the host (docker's DNAT)
    -m addrtype --dst-type LOCAL -j DROP           every address of the host
    -m addrtype --dst-type BROADCAST -j DROP
    -m addrtype --dst-type MULTICAST -j DROP

Installing is idempotent (an earlier agent's chain is replaced), and the agent removes the chain
and its jumps when it exits. Without iptables, without root, or when the agent does not share the
host's network namespace (a Compose agent not on `network_mode: host`), it says so loudly and
leaves the rules to the operator (`rules_for_operator` prints them).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("berth.agent")

NETWORK_PREFIX = "berth-apps-"
LABEL_OWNER = "berth.owner"
ICC_OPTION = "com.docker.network.bridge.enable_icc"
BRIDGE_OPTION = "com.docker.network.bridge.name"
_IPTABLES_TIMEOUT = 10.0
REMOVE_TIMEOUT = 15.0
_JUMPS = ("INPUT", "DOCKER-USER")


@dataclass(frozen=True)
class AppNetwork:
    """Names of one owner's app network: the Docker network, its Linux bridge and firewall chain."""

    name: str
    bridge: str
    chain: str

    @classmethod
    def for_owner(cls, owner: str) -> AppNetwork:
        # Interface names are at most 15 bytes, chain names 28.
        return cls(name=NETWORK_PREFIX + owner, bridge=f"berth{owner[:10]}", chain=f"BERTH-{owner[:16]}")

    def rules(self) -> list[list[str]]:
        """The chain's rules, as iptables arguments after `-A <chain>`."""
        return [
            ["-d", "169.254.0.0/16", "-j", "DROP"],
            ["-m", "conntrack", "--ctstate", "DNAT", "-j", "DROP"],
            ["-m", "addrtype", "--dst-type", "LOCAL", "-j", "DROP"],
            ["-m", "addrtype", "--dst-type", "BROADCAST", "-j", "DROP"],
            ["-m", "addrtype", "--dst-type", "MULTICAST", "-j", "DROP"],
        ]

    def jump(self) -> list[str]:
        """What INPUT and DOCKER-USER match to send a packet through the chain."""
        return ["-i", self.bridge, "-j", self.chain]

    def rules_for_operator(self) -> str:
        """The same firewall as shell commands, for a host where the agent cannot install it."""
        lines = [f"iptables -N {self.chain}"]
        lines += [f"iptables -A {self.chain} {' '.join(rule)}" for rule in self.rules()]
        lines += [f"iptables -I {parent} 1 {' '.join(self.jump())}" for parent in _JUMPS]
        return "; ".join(lines)


def ensure_network(client: Any, network: AppNetwork, owner: str) -> None:
    """Creates the app network unless it exists as it should (an earlier one with other settings,
    made by hand or by an older agent, is replaced: the caller removed its containers first)."""
    import docker.errors

    for found in client.networks.list(names=[network.name]):
        if found.name != network.name:
            continue  # `names` filters by substring
        options = (found.attrs or {}).get("Options") or {}
        if options.get(ICC_OPTION) == "false" and options.get(BRIDGE_OPTION) == network.bridge:
            return
        log.warning("replacing Docker network %s: inter-container traffic was not off", network.name)
        with contextlib.suppress(docker.errors.DockerException):
            found.remove()
    try:
        client.networks.create(
            network.name,
            driver="bridge",
            options={ICC_OPTION: "false", BRIDGE_OPTION: network.bridge},
            labels={LABEL_OWNER: owner},
            check_duplicate=True,
        )
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # made meanwhile by another agent on this home: fine
            raise


def remove_network(client: Any, network: AppNetwork, *, timeout: float = REMOVE_TIMEOUT) -> bool:
    """Removes the app network, waiting for containers still being removed to leave it."""
    import docker.errors

    deadline = time.monotonic() + timeout
    while True:
        try:
            client.api.remove_network(network.name)
            return True
        except docker.errors.NotFound:
            return True
        except docker.errors.DockerException as exc:
            if time.monotonic() > deadline:
                log.warning("could not remove Docker network %s: %s", network.name, exc)
                return False
        time.sleep(0.2)


class Firewall:
    """The app network's chain in the host's iptables (see the module's docstring)."""

    def __init__(self, network: AppNetwork, *, iptables: str | None = None) -> None:
        self.network = network
        self._iptables = iptables if iptables is not None else shutil.which("iptables")
        self.installed = False

    def install(self) -> str:
        """Installs the rules; returns "" or why they could not be installed (also logged)."""
        why = self._unavailable()
        if not why:
            try:
                self._remove_rules()
                self._run("-N", self.network.chain)
                for rule in self.network.rules():
                    self._run("-A", self.network.chain, *rule)
                for parent in _JUMPS:
                    self._run("-I", parent, "1", *self.network.jump())
                self.installed = True
            except (OSError, subprocess.SubprocessError) as exc:
                why = f"iptables failed: {exc}"
                self._remove_rules()
        if why:
            log.warning(
                "app containers can reach this host's own addresses and link-local metadata services: "
                "the agent could not firewall Docker network %s (%s). Add these rules on the host: %s",
                self.network.name,
                why,
                self.network.rules_for_operator(),
            )
        return why

    def remove(self) -> None:
        if self.installed:
            self._remove_rules()
            self.installed = False

    def _unavailable(self) -> str:
        if not self._iptables:
            return "no iptables command"
        if not Path("/sys/class/net", self.network.bridge).exists():
            return (
                f"the bridge {self.network.bridge} is not in this agent's network namespace "
                "(under Compose, run the agent with network_mode: host and cap_add: [NET_ADMIN])"
            )
        return ""

    def _remove_rules(self) -> None:
        for parent in _JUMPS:
            for _ in range(16):  # every copy of the jump, should an earlier agent have added several
                if not self._try("-D", parent, *self.network.jump()):
                    break
        self._try("-F", self.network.chain)
        self._try("-X", self.network.chain)

    def _run(self, *args: str) -> None:
        result = self._call(*args)
        if result.returncode != 0:
            raise subprocess.SubprocessError(f"iptables {' '.join(args)}: {result.stderr.strip()}")

    def _try(self, *args: str) -> bool:
        try:
            return self._call(*args).returncode == 0
        except (OSError, subprocess.SubprocessError):
            return False

    def _call(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self._iptables or "iptables", "-w", "5", *args],
            capture_output=True,
            text=True,
            timeout=_IPTABLES_TIMEOUT,
            check=False,
        )
