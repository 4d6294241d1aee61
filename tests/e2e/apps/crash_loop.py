"""Raises at import inside its containers (BROKEN), as an app whose database is unreachable would:
each boot attempt prints IMPORT_MARKER first, so `berth app logs` counts them.
tests/e2e/test_crash_loop.py deploys a copy with BROKEN = False as the fix."""

import os

import berth

BROKEN = True
IMPORT_MARKER = "crash-loop: importing the app"

app = berth.App("crash-loop", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))

if os.environ.get("BERTH_CONTAINER_ID"):  # in a container, not while `berth deploy` reads the file
    print(IMPORT_MARKER, flush=True)
    if BROKEN:
        raise RuntimeError("database unreachable")


@app.function(scaledown_window=2)
@berth.fastapi_endpoint()
def web():
    return "fixed"
