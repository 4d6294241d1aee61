"""The build uid may connect to the builder's egress proxy and to nothing else (nftables, as root).

Build commands run as BERTH_BUILD_UID (sandbox.py), a uid used by nothing else on the host, so
the kernel's socket owner tells their connections apart from everyone else's. The table
`inet berth_build_egress` has two chains every builder on the host shares:

    allow   meta skuid <build uid> ip daddr 127.0.0.1 tcp dport <proxy port> accept   (per builder)
    deny    meta skuid <build uid> reject                                            (per builder)

and a base chain on the output hook that runs `allow`, then `deny`. Each builder adds its own
rules, tagged with its pid (services/common/nft.py), and removes them when it stops; the next
builder to start removes those of builders that died. A reset for TCP and an ICMP error for the
rest make a refused connection fail at once (ECONNREFUSED / EPERM) instead of hanging. DNS is
refused too: the proxy resolves names, the build never needs to.

Not root (a user namespace maps the build to the builder's own uid), there is nothing to match
on: the proxy settings still steer uv, but a build backend that ignores them reaches the network
as the builder does. The sandbox logs that once.
"""

from __future__ import annotations

import atexit
import logging

from services.common import nft

log = logging.getLogger("berth.builder")

FAMILY = "inet"
TABLE = "berth_build_egress"
# Before NAT, as the agent's table: the destination as the build asked for it.
PRIORITY = -150


def base_script(*, table: str = TABLE) -> str:
    """The shared chains: created when missing, the base chain's two jumps replaced."""
    t = f"{FAMILY} {table}"
    return (
        f"add table {t}\n"
        f"add chain {t} allow\n"
        f"add chain {t} deny\n"
        f"add chain {t} output {{ type filter hook output priority {PRIORITY}; policy accept; }}\n"
        f"flush chain {t} output\n"
        f"add rule {t} output jump allow\n"
        f"add rule {t} output jump deny\n"
    )


def owner_script(uid: int, port: int, comment: str, *, table: str = TABLE) -> str:
    """One builder's rules: its build uid reaches its proxy on 127.0.0.1:`port`, nothing else."""
    t = f"{FAMILY} {table}"
    tag = f'comment "{comment}"'
    return (
        f"add rule {t} allow meta skuid {uid} ip daddr 127.0.0.1 tcp dport {port} accept {tag}\n"
        f"add rule {t} deny meta skuid {uid} meta l4proto tcp reject with tcp reset {tag}\n"
        f"add rule {t} deny meta skuid {uid} reject with icmpx admin-prohibited {tag}\n"
    )


class BuildFirewall:
    """This builder's rules in the shared table."""

    def __init__(self, *, table: str = TABLE) -> None:
        self.table = table
        self.comment = ""
        self._cleanup_registered = False

    def install(self, uid: int, port: int) -> str:
        """Adds the rules for `uid` and the proxy's `port` (replacing this builder's earlier ones);
        returns "" or why they could not be installed."""
        if uid == 0:
            return "the build uid is 0 (root): filtering it would filter the builder itself"
        comment = nft.owner_comment("builder", f"uid {uid} port {port}")
        try:
            nft.run(base_script(table=self.table) + owner_script(uid, port, comment, table=self.table))
        except nft.NftError as exc:
            return str(exc)
        previous, self.comment = self.comment, comment
        if not self._cleanup_registered:  # a builder that is not closed (tests) still cleans up
            atexit.register(self.remove)
            self._cleanup_registered = True
        for chain in ("allow", "deny"):
            if previous:
                nft.delete_rules(FAMILY, self.table, chain, comment=previous)
            nft.prune_dead(FAMILY, self.table, chain)
        return ""

    def remove(self) -> None:
        """Removes this builder's rules (the shared chains stay for the others)."""
        if self.comment:
            for chain in ("allow", "deny"):
                nft.delete_rules(FAMILY, self.table, chain, comment=self.comment)
            self.comment = ""
