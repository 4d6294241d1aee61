"""An app written with the hosted service's former names: every one of them still works (with a
deprecation warning at deploy), and region= is accepted with a notice."""

import os
import time

import berth

app = berth.Stub("compat-names", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function(
    concurrency_limit=1,
    keep_warm=1,
    container_idle_timeout=30,
    allow_concurrent_inputs=3,
    region="us-east",
)
@berth.fastapi_endpoint()
def hello(sleep: float = 0):
    time.sleep(sleep)
    return {"pid": os.getpid()}


@app.cls()
@berth.experimental.http_server(port=8000, proxy_regions=["us-east"], startup_timeout=20)
class Files:
    @berth.enter()
    def start(self):
        import subprocess

        subprocess.Popen(["python", "-m", "http.server", "-d", "/", "8000"])
