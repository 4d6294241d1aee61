"""Running `nft` for the platform's egress filters (the agent's and the builder's tables).

Both filters follow one pattern: a table whose base chains are the same for every Berth process on
the host, replaced atomically by whoever starts (`nft -f` runs a script as one transaction), and
a chain of per-process exceptions, each rule tagged with a comment naming its owner's pid
(`owner_comment`). A process removes its own rules when it ends; rules whose owner is gone (a
crash) are removed by the next process that installs the table (`prune_dead`), so exceptions do
not outlive their reason by long.

Everything here is synchronous and quick (one `nft` call is a few milliseconds) and runs at start
and exit only, never on a request's path.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

_SEARCHED = ("/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft", "/usr/local/sbin/nft")
_TIMEOUT = 10.0
_OWNER = re.compile(r"\bpid (\d+)\b")


class NftError(Exception):
    """nft is missing, or refused a script (the message says which, with nft's own words)."""


def binary() -> str | None:
    """The nft command, or None. Looked for in the sbin directories too: services often run with
    a PATH that lacks them."""
    found = shutil.which("nft")
    if found:
        return found
    return next((path for path in _SEARCHED if os.access(path, os.X_OK)), None)


def run(script: str, *, nft: str | None = None) -> None:
    """Applies `script` (nft's own syntax) as one transaction: all of it or nothing."""
    command = nft or binary()
    if command is None:
        raise NftError("no nft command (install the nftables package)")
    try:
        result = subprocess.run(
            [command, "-f", "-"], input=script, capture_output=True, text=True, timeout=_TIMEOUT, check=False
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise NftError(f"{command}: {exc}") from exc
    if result.returncode != 0:
        raise NftError(f"{command} -f: {(result.stderr or result.stdout).strip()[:2000]}")


@dataclass(frozen=True)
class Rule:
    handle: int
    comment: str


def rules(family: str, table: str, chain: str, *, nft: str | None = None) -> list[Rule]:
    """The rules of a chain with their handles; [] when the chain or the table does not exist."""
    command = nft or binary()
    if command is None:
        return []
    try:
        result = subprocess.run(
            [command, "-j", "-a", "list", "chain", family, table, chain],
            capture_output=True,
            text=True,
            timeout=_TIMEOUT,
            check=False,
        )
        listing = json.loads(result.stdout) if result.returncode == 0 else {}
    except (OSError, subprocess.SubprocessError, ValueError):
        return []
    found = []
    for item in listing.get("nftables", []):
        rule = item.get("rule") if isinstance(item, dict) else None
        if rule and "handle" in rule:
            found.append(Rule(int(rule["handle"]), str(rule.get("comment", ""))))
    return found


def owner_comment(role: str, detail: str = "", *, pid: int | None = None) -> str:
    """The comment tagging a process's own rules: `berth-<role> pid <pid>[ <detail>]`."""
    text = f"berth-{role} pid {os.getpid() if pid is None else pid}"
    return f"{text} {detail}" if detail else text


def owner_alive(comment: str) -> bool:
    """Whether the process a rule's comment names still runs (untagged rules count as alive)."""
    match = _OWNER.search(comment)
    if not match:
        return True
    try:
        os.kill(int(match.group(1)), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def delete_script(family: str, table: str, chain: str, handles: list[int]) -> str:
    return "".join(f"delete rule {family} {table} {chain} handle {handle}\n" for handle in handles)


def delete_rules(family: str, table: str, chain: str, *, comment: str = "") -> None:
    """Deletes the rules of `chain` tagged exactly `comment` (or, with comment "", those whose
    owner is gone). Best effort: a rule another process deleted meanwhile is not an error."""
    found = rules(family, table, chain)
    if comment:
        doomed = [rule.handle for rule in found if rule.comment == comment]
    else:
        doomed = [rule.handle for rule in found if not owner_alive(rule.comment)]
    for handle in doomed:  # one by one: a handle gone meanwhile must not undo the others
        try:
            run(delete_script(family, table, chain, [handle]))
        except NftError:
            continue


def prune_dead(family: str, table: str, chain: str) -> None:
    """Removes the rules of processes that ended without removing their own (a crash, a kill)."""
    delete_rules(family, table, chain)
