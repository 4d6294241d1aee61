"""`berth run FILE[::NAME] [--param value ...]`: run an app's local entrypoint, or one function,
against an ephemeral copy of the app.

The copy is deployed as `berth serve` deploys (`berth deploy --dev` in a fresh interpreter, so the
app file is imported once in each process); the file is imported here too, to run the entrypoint
in this process, its functions' `.remote` calls reaching that copy. The copy is stopped when the
entrypoint returns, fails, or is interrupted (Ctrl-C, SIGTERM). While it runs, what the copy's
containers print goes to stderr (access lines left out), so stdout stays the entrypoint's own.

One ephemeral copy exists per app name, shared with `berth serve`: while one is up (a `berth serve`
or another `berth run` of the app), `berth run` refuses rather than replace its code and stop it.

Which function runs: `::NAME` names a local entrypoint or a function; without it, the app's one
local entrypoint, else its one function. A function named this way is called with `.remote` (a
generator with `.remote_gen`) and what it returns (or yields) is printed.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import grpc

from berth._app import _normalized
from berth._entrypoint import LocalEntrypoint, parse_args
from berth._errors import InvalidError
from berth._function import Function
from berth.cli import logs
from berth.cli.apps import list_apps, stop_app
from berth.cli.client import Api
from berth.cli.deploy import app_name as name_to_deploy
from berth.cli.loading import LoadedApp, load_app_file
from berth.cli.serve import _app_name, _deploy


def split_target(text: str) -> tuple[Path, str | None]:
    """`app.py::main` -> (app.py, "main"); `app.py` -> (app.py, None)."""
    path, sep, name = text.partition("::")
    if sep and not name:
        raise InvalidError(f"{text!r}: name a function after '::', e.g. {path}::main")
    return Path(path), name or None


def choose(loaded: LoadedApp, name: str | None) -> LocalEntrypoint | Function:
    """The entrypoint or function `name`, or the app's only entrypoint (else only function)."""
    entrypoints = loaded.app.registered_entrypoints
    functions = loaded.app.registered_functions
    if name is not None:
        found = entrypoints.get(name) or functions.get(name)
        if found is None:
            known = sorted(entrypoints) + sorted(functions)
            raise InvalidError(
                f"{loaded.path.name} has no local entrypoint or function {name!r}; "
                f"it has: {', '.join(known) or 'none'}"
            )
        return found
    if len(entrypoints) == 1:
        return next(iter(entrypoints.values()))
    if len(entrypoints) > 1:
        raise InvalidError(
            f"{loaded.path.name} has several local entrypoints ({', '.join(sorted(entrypoints))}): "
            f"pick one with {loaded.path.name}::NAME"
        )
    if len(functions) == 1:
        return next(iter(functions.values()))
    raise InvalidError(
        f"{loaded.path.name} has no @app.local_entrypoint() and "
        f"{'several functions' if functions else 'no function'}: name one with "
        f"{loaded.path.name}::NAME" + (f" (one of {', '.join(sorted(functions))})" if functions else "")
    )


def copy_in_use(api: Api, name: str) -> bool:
    """Whether app `name` has an ephemeral copy up now (served, or another run's)."""
    wanted = _normalized(name)
    return any(app.ephemeral and _normalized(app.name) == wanted for app in list_apps(api).apps)


def _interrupt(*_: object) -> NoReturn:
    raise KeyboardInterrupt


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM ends the run as Ctrl-C does, so the ephemeral copy is stopped either way."""
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _follow_output(api: Api, app_name: str, since_ms: int) -> grpc.Future:
    """Prints the copy's container output to stderr from a daemon thread until cancelled."""
    query = logs.Query(app_name, follow=True, since_ms=since_ms, ephemeral=True)
    call = api.control.AppLogs(query.request(), metadata=api.metadata)

    def pump() -> None:
        try:
            for line in call:
                if line.stream != "access":
                    print(logs.format_line(line), file=sys.stderr, flush=True)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                print(f"berth: app logs stopped: {exc.details()}", file=sys.stderr, flush=True)

    threading.Thread(target=pump, name="berth-run-logs", daemon=True).start()
    return call


def _invoke(target: LocalEntrypoint | Function, kwargs: dict[str, Any], out: Callable[[Any], None]) -> None:
    if isinstance(target, LocalEntrypoint):
        result = target.raw_f(**kwargs)
        if inspect.isawaitable(result):
            asyncio.run(_awaited(result))
        return
    if target._generator:
        for value in target.remote_gen(**kwargs):
            out(value)
        return
    result = target.remote(**kwargs)
    if result is not None:
        out(result)


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def run(target_text: str, argv: list[str], *, api: Api | None = None) -> int:
    """Deploys an ephemeral copy of the app, runs the chosen entrypoint or function, stops the copy."""
    path, name = split_target(target_text)
    loaded = load_app_file(path)
    target = choose(loaded, name)
    kwargs = parse_args(target.get_raw_f(), argv, prog=f"berth run {path.name}::{target.name}")
    api = api or Api()
    name_of_app = name_to_deploy(loaded.app.name, None, loaded.path)
    if copy_in_use(api, name_of_app):
        print(
            f"berth run: app {name_of_app!r} already has an ephemeral copy up (a `berth serve` of it, or "
            "another `berth run`); running would replace its code and stop it at the end. Stop that one "
            "first (Ctrl-C where it runs), then run again.",
            file=sys.stderr,
        )
        return 1
    started_ms = int(time.time() * 1000)
    with _sigterm_interrupts():
        ok, output = _deploy(loaded.path, None)
        if not ok:
            return 1
        app_name = _app_name(output)
        for line in output.splitlines():  # the copy's URLs, if it has web functions
            if not line.startswith("app-name: "):
                print(line, file=sys.stderr)
        loaded.app._run_copy = (app_name, True)
        print(f"running {target.name} with the ephemeral app {app_name}", file=sys.stderr, flush=True)
        follower = _follow_output(api, app_name, started_ms)
        try:
            _invoke(target, kwargs, lambda value: print(value, flush=True))
        finally:
            loaded.app._run_copy = None
            follower.cancel()
            stop_app(api, app_name, ephemeral=True)
            print(f"stopped {app_name}", file=sys.stderr, flush=True)
    return 0
