"""NATS identities: one nkey per service role, made once per home and kept there with mode 0600.

The seed file's name is the identity (`scheduler.nk`, `agent-<id>.nk`); the server learns only the
public keys (services/common/permissions.py writes its config), so a stolen config grants nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import nkeys

# Identities every platform has; agents add `agent-<agent id>` each.
ADMIN = "admin"
SCHEDULER = "scheduler"
BUILDER = "builder"
EDGE = "edge"
ROLES = (ADMIN, SCHEDULER, BUILDER, EDGE)
AGENT_PREFIX = "agent-"


def directory(home: Path) -> Path:
    return home / "credentials"


def seed_file(home: Path, identity: str) -> Path:
    return directory(home) / f"{identity}.nk"


def agent_identity(agent_id: str) -> str:
    return AGENT_PREFIX + agent_id


def write_private(path: Path, content: bytes) -> None:
    """Writes a file only its owner can read, atomically, in a directory only its owner can enter."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    staging = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(content)
    os.replace(staging, path)


def ensure(home: Path, identity: str) -> str:
    """The identity's public key, making its seed on first use."""
    return ensure_seed(seed_file(home, identity))


def ensure_seed(path: Path) -> str:
    """The public key of the seed in `path`, making a new seed there if there is none."""
    if not path.exists():
        write_private(path, nkeys.encode_seed(os.urandom(32), nkeys.PREFIX_BYTE_USER))
    return public_key(path)


def public_key(path: Path) -> str:
    key = nkeys.from_seed(bytearray(path.read_bytes().strip()))
    return bytes(key.public_key).decode()


def agent_ids(home: Path) -> list[str]:
    """Agents that have credentials under this home, in name order."""
    found = sorted(directory(home).glob(f"{AGENT_PREFIX}*.nk"))
    return [path.name.removesuffix(".nk").removeprefix(AGENT_PREFIX) for path in found]
