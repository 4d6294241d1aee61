"""`berth serve FILE`: an ephemeral app with -dev URLs that follows the file as it changes.

Each (re)deploy runs `berth deploy --dev` in a fresh interpreter, so an edited module is imported
anew (an in-process re-import would keep stale sibling modules) and a broken edit cannot take the
watcher down: the last good version keeps serving until the next save.

While it serves, the app's logs (its containers' output, one access line per request, failures'
details) stream to stdout from a thread, from the moment `serve` started, as `berth app logs -f`
would print them.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc

from berth.cli import logs
from berth.cli.apps import stop_app
from berth.cli.client import Api

_IGNORED_DIRS = {".venv", "venv", "__pycache__", ".git", "node_modules", ".mypy_cache", ".ruff_cache"}
DEPLOY_TIMEOUT = 900.0


def _deploy(path: Path, name: str | None) -> tuple[bool, str]:
    argv = [sys.executable, "-m", "berth.cli.main", "deploy", str(path), "--dev"]
    if name:
        argv += ["--name", name]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=DEPLOY_TIMEOUT)
    except subprocess.TimeoutExpired:
        return False, f"deploy did not finish within {DEPLOY_TIMEOUT:.0f}s"
    sys.stderr.write(result.stderr)
    return result.returncode == 0, result.stdout


def _relevant(path: str) -> bool:
    parts = Path(path).parts
    return path.endswith(".py") and not any(part in _IGNORED_DIRS for part in parts)


def serve(path: Path, *, name: str | None, api: Api) -> int:
    path = path.resolve()
    started_ms = int(time.time() * 1000)
    ok, urls = _deploy(path, name)
    if not ok:
        return 1
    app_name = _app_name(urls)
    # Function names cannot hold a dash, so this marker line never collides with a URL line.
    print(
        "".join(line + "\n" for line in urls.splitlines() if not line.startswith("app-name: ")),
        end="",
        flush=True,
    )
    print(
        f"serving {app_name}: watching {path.parent} for changes; Ctrl-C stops and removes the app",
        file=sys.stderr,
    )
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    follower = _follow_logs(api, logs.Query(app_name, follow=True, since_ms=started_ms, ephemeral=True))
    try:
        import watchfiles

        for changes in watchfiles.watch(
            path.parent, stop_event=stop, raise_interrupt=False, rust_timeout=500
        ):
            changed = sorted({p for _, p in changes if _relevant(p)})
            if not changed:
                continue
            print(f"changed: {', '.join(Path(p).name for p in changed)}; redeploying", file=sys.stderr)
            ok, urls = _deploy(path, name)
            print(
                "updated" if ok else "update failed; the previous version keeps serving",
                file=sys.stderr,
                flush=True,
            )
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        follower.cancel()
        stop_app(api, app_name, ephemeral=True)
        print(f"stopped {app_name}", file=sys.stderr, flush=True)
    return 0


def _follow_logs(api: Api, query: logs.Query) -> grpc.Future:
    """Prints the app's log lines from a daemon thread until the returned call is cancelled."""
    call = api.control.AppLogs(query.request(), metadata=api.metadata)

    def pump() -> None:
        try:
            for line in call:
                print(logs.format_line(line), flush=True)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                print(f"berth: app logs stopped: {exc.details()}", file=sys.stderr, flush=True)

    threading.Thread(target=pump, name="berth-serve-logs", daemon=True).start()
    return call


def _app_name(deploy_output: str) -> str:
    for line in deploy_output.splitlines():
        if line.startswith("app-name: "):
            return line.split(": ", 1)[1].strip()
    raise RuntimeError("deploy did not report the app's name")
