"""Credentials for the compose stack (deploy/docker-compose.yml), made once into one directory:

    python -m services.launcher.credentials deploy/credentials [--agent-id agent-1 ...]

Writes, each mode 0600 in a 0700 directory, only what is missing (so re-running keeps every seed,
key and token): `<identity>.nk` for admin, scheduler, builder, edge and `agent-<agent id>` per
agent; `token.key` and `secret.key` (32 random bytes as 64 hex digits: the key API token records
are signed with, and the key secrets are encrypted with); `api.token` (the `berth` CLI's token,
which the scheduler makes valid at its start); and `nats.conf`, the nats-server config admitting
exactly the public keys of the seeds in the directory. nats.conf holds no secret and is derived
from the seeds, so it is the one file rewritten: when an agent's seed is added.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from services.common import auth, credentials, permissions
from services.launcher import nats

NATS_CONF = "nats.conf"
NATS_LISTEN = "0.0.0.0:4222"  # inside the compose network only: the stack publishes no NATS port
TOKEN_KEY = "token.key"
SECRET_KEY = "secret.key"
API_TOKEN = "api.token"
DEFAULT_AGENT_ID = "agent-1"  # deploy/docker-compose.yml's BERTH_AGENT_ID default
# An agent id names a file and is a NATS subject token: no dots, wildcards, slashes or spaces.
_AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def _agent_id(value: str) -> str:
    if _AGENT_ID.fullmatch(value) is None:
        raise argparse.ArgumentTypeError(f"{value!r}: letters, digits, '-' and '_' only (at most 63)")
    return value


def _seed_identities(out: Path) -> list[str]:
    return sorted(p.name.removesuffix(".nk") for p in out.glob("*.nk"))


def generate(out: Path, agent_ids: Sequence[str] = ()) -> list[tuple[str, Path]]:
    """Makes what is missing in `out`; returns (what happened, path) for every file: made, kept,
    or updated (nats.conf, when the set of identities changed)."""
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)
    if not agent_ids and not any(i.startswith(credentials.AGENT_PREFIX) for i in _seed_identities(out)):
        agent_ids = [DEFAULT_AGENT_ID]
    report: list[tuple[str, Path]] = []

    def keep_or_make(path: Path, make: Callable[[Path], object]) -> None:
        if path.exists():
            report.append(("kept", path))
            return
        make(path)
        report.append(("made", path))

    wanted = [*credentials.ROLES, *(credentials.agent_identity(a) for a in agent_ids)]
    for identity in wanted:
        keep_or_make(out / f"{identity}.nk", credentials.ensure_seed)
    # Every seed here is admitted, also agents named on an earlier run.
    users = {identity: credentials.public_key(out / f"{identity}.nk") for identity in _seed_identities(out)}
    config = permissions.server_config(users, max_payload=nats.MAX_PAYLOAD, listen=NATS_LISTEN).encode()
    conf = out / NATS_CONF
    if not conf.exists():
        credentials.write_private(conf, config)
        report.append(("made", conf))
    elif conf.read_bytes() != config:
        credentials.write_private(conf, config)
        report.append(("updated", conf))
    else:
        report.append(("kept", conf))
    for name in (TOKEN_KEY, SECRET_KEY):
        keep_or_make(out / name, lambda path: credentials.write_private(path, os.urandom(32).hex().encode()))
    keep_or_make(out / API_TOKEN, lambda path: credentials.write_private(path, auth.new_token().encode()))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.launcher.credentials",
        description="Make the NATS seeds, nats.conf, keys and API token of the compose stack "
        "(deploy/README.md). Existing files are kept.",
    )
    parser.add_argument("out", type=Path, help="directory to write into (deploy/credentials for compose)")
    parser.add_argument(
        "--agent-id",
        dest="agent_ids",
        action="append",
        type=_agent_id,
        default=[],
        help=f"an agent's id (BERTH_AGENT_ID); repeat for several; default {DEFAULT_AGENT_ID} "
        "when the directory has no agent yet",
    )
    args = parser.parse_args(argv)
    for what, path in generate(args.out, args.agent_ids):
        print(f"{what:8} {path}")
    print(f"The berth CLI's API token is in {args.out / API_TOKEN} (see deploy/README.md).")
    print("Next: cd deploy && docker-compose up -d")
    return 0


if __name__ == "__main__":
    sys.exit(main())
