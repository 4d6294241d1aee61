"""Reports what a container sees from inside (tests/unit/runtime/test_isolation.py)."""

import os
import subprocess
import sys

import berth as modal

app = modal.App("isolated-app")


def _attempt(action) -> str:
    try:
        action()
    except OSError as exc:
        return str(exc.strerror)
    return "ok"


def _write(path: str) -> None:
    with open(path, "w") as f:
        f.write("x")


@app.function()
@modal.fastapi_endpoint()
def look(secret: str = "", hidden: str = "", sleep: bool = False) -> dict:
    child = subprocess.Popen(["sleep", "300"]).pid if sleep else 0
    import json  # noqa: F401 - a stdlib module the zygote did not import: the interpreter is readable

    return {
        "uid": os.getuid(),
        "gid": os.getgid(),
        "groups": os.getgroups(),
        "pid": os.getpid(),
        "child": child,
        "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
        "tmp": sorted(os.listdir("/tmp")),
        "hidden": os.listdir(hidden) if hidden and os.path.isdir(hidden) else None,
        "secret": _attempt(lambda: open(secret).read()) if secret else "",
        "code_write": _attempt(lambda: _write(os.path.join(os.environ["BERTH_CODE_DIR"], "x.py"))),
        "home_write": _attempt(lambda: _write(os.path.join(os.environ["HOME"], "x.txt"))),
        "tmp_write": _attempt(lambda: _write("/tmp/x.txt")),
        "venv_write": _attempt(lambda: _write(os.path.join(sys.prefix, "x.txt"))),
        "env": sorted(os.environ),
        "status": open("/proc/self/status").read(),
    }
