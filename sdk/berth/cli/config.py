"""Client configuration: where the deploy API is and the token to use.

`berth up` writes `$BERTH_HOME/config.toml` (`berth login` does for a platform started elsewhere);
`BERTH_SERVER`, `BERTH_TOKEN` and `BERTH_CA_FILE` override it, so a client on another machine
needs no file at all. With `ca_file` set, the CLI speaks TLS to the API and trusts only that CA
(for operators who expose the API beyond the host).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path


def home() -> Path:
    return Path(os.environ.get("BERTH_HOME") or Path.home() / ".berth").expanduser()


@dataclass(frozen=True)
class ClientConfig:
    server: str
    token: str
    edge_url: str = ""
    ca_file: str = ""


def config_path(base: Path | None = None) -> Path:
    return (base or home()) / "config.toml"


def load(base: Path | None = None) -> ClientConfig:
    path = config_path(base)
    data: dict[str, object] = {}
    if path.exists():
        data = tomllib.loads(path.read_text())
    return ClientConfig(
        server=os.environ.get("BERTH_SERVER") or str(data.get("server", "")),
        token=os.environ.get("BERTH_TOKEN") or str(data.get("token", "")),
        edge_url=str(data.get("edge_url", "")),
        ca_file=os.environ.get("BERTH_CA_FILE") or str(data.get("ca_file", "")),
    )


def save(config: ClientConfig, base: Path | None = None, *, written_by: str = "berth up") -> Path:
    path = config_path(base)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_suffix(".tmp")
    fields = {"server": config.server, "token": config.token, "edge_url": config.edge_url}
    if config.ca_file:
        fields["ca_file"] = config.ca_file
    staging.write_text(
        f"# Written by `{written_by}`. BERTH_SERVER and BERTH_TOKEN override these.\n"
        # json.dumps quotes and escapes as TOML basic strings need (a Windows path's backslashes).
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in fields.items())
    )
    staging.chmod(0o600)
    os.replace(staging, path)
    return path
