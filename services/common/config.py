"""Configuration shared by the services: flags with environment fallbacks and sane defaults.

Each service builds its own dataclass from these helpers and prints it at start, so an operator
sees exactly what is in effect.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a whole number") from None


def default_home() -> Path:
    return Path(os.environ.get("BERTH_HOME") or Path.home() / ".berth").expanduser()


def common_flags(parser: argparse.ArgumentParser) -> None:
    """Flags every service takes."""
    parser.add_argument(
        "--nats-url",
        default=env_str("BERTH_NATS_URL", "nats://127.0.0.1:4222"),
        help="NATS server (env BERTH_NATS_URL)",
    )
    parser.add_argument(
        "--nats-seed-file",
        default=env_str("BERTH_NATS_SEED_FILE", ""),
        help="this service's NATS nkey seed file (env BERTH_NATS_SEED_FILE; berth up makes them)",
    )
    parser.add_argument(
        "--home", default=str(default_home()), help="state directory (env BERTH_HOME, default ~/.berth)"
    )


def describe(config: Any) -> str:
    """One line naming every setting, secrets masked, for the start-up log."""
    parts = []
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if "token" in field.name or "secret" in field.name or "key" in field.name:
            value = "***" if value else ""
        parts.append(f"{field.name}={value}")
    return " ".join(parts)


def secret_value(parser: argparse.ArgumentParser, path: str, env_name: str, what: str) -> str:
    """A secret from the file at `path` (how berth up and compose hand them over, invisible in
    /proc/<pid>/environ and docker inspect), else from the environment variable; refused if neither."""
    value = os.environ.get(env_name, "")
    if path:
        try:
            value = Path(path).read_text()
        except OSError as exc:
            parser.error(f"cannot read {what} from {path}: {exc.strerror}")
    if not value.strip():
        parser.error(
            f"{what} is required: a file named by {env_name}_FILE (or its flag), or {env_name} itself "
            "(berth up makes one)"
        )
    return value.strip()
