"""`berth login`: point this machine's CLI at a platform that `berth up` here did not start (a
compose deployment, another host), by writing `$BERTH_HOME/config.toml` as `berth up` does.

The token is checked against the API first: a wrong one is refused and nothing is written. An
API that does not answer (not up yet, a tunnel not open) still gets the file, with a warning.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import grpc

from berth._errors import AuthError, InvalidError
from berth.cli.client import Api, UnavailableError, translate
from berth.cli.config import ClientConfig, save
from berth.v1 import control_pb2

CHECK_TIMEOUT = 10.0


@dataclass(frozen=True)
class LoggedIn:
    path: Path  # the config file written
    checked: bool  # whether the API answered and took the token
    warning: str  # why it was not checked ("" when it was)


def read_token(token: str, stdin: TextIO) -> str:
    """`--token -` reads the token from standard input, so it stays out of shell history."""
    value = stdin.read().strip() if token == "-" else token.strip()
    if not value:
        raise InvalidError("the token is empty: give --token T, or --token - with the token on stdin")
    return value


def check_server(server: str) -> None:
    host, sep, port = server.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise InvalidError(f"--server {server!r} is not HOST:PORT (e.g. 127.0.0.1:7100)")


def login(config: ClientConfig, home: Path) -> LoggedIn:
    """Checks the token against the API, then writes the config into `home`."""
    check_server(config.server)
    if config.edge_url and not config.edge_url.startswith(("http://", "https://")):
        raise InvalidError(f"--edge {config.edge_url!r} is not a URL (e.g. http://localhost:8000)")
    warning = ""
    api = Api(config)
    try:
        api.control.ListApps(control_pb2.ListAppsRequest(), metadata=api.metadata, timeout=CHECK_TIMEOUT)
    except grpc.RpcError as exc:
        error = translate(exc)
        if isinstance(error, AuthError):
            raise AuthError(
                f"{config.server} refused the token; nothing was written ({exc.details()})"
            ) from None
        if not isinstance(error, UnavailableError) and exc.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise error from None
        warning = (
            f"{config.server} did not answer ({exc.details()}); saved anyway, check with `berth app list`"
        )
    finally:
        api.close()
    path = save(config, home, written_by="berth login")
    return LoggedIn(path=path, checked=not warning, warning=warning)


def print_logged_in(done: LoggedIn, server: str, err: TextIO = sys.stderr) -> None:
    if done.warning:
        print(f"warning: {done.warning}", file=err)
    print(f"{'logged in to' if done.checked else 'configured'} {server}: wrote {done.path}", file=err)
