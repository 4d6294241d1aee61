"""The victim of tests/e2e/test_isolation.py: holds a secret in its environment and leaves copies
of it where a careless app would (its HOME, /tmp, /dev/shm), for a neighbour to look for."""

import os
from pathlib import Path

import berth

app = berth.App("victim", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function(secrets=[berth.Secret.from_name("victim-secret")])
@berth.fastapi_endpoint()
def hold() -> dict:
    secret = os.environ["VICTIM_SECRET"]
    written = []
    for place in (Path.home() / "victim-secret.txt", Path("/tmp/victim-secret.txt"), Path("/dev/shm/victim")):
        try:
            place.write_text(secret)
            written.append(str(place))
        except OSError:
            pass
    return {"pid": os.getpid(), "uid": os.getuid(), "home": str(Path.home()), "written": written}
