import os
import sys

import berth as modal

app = modal.App("env-app")


@app.function()
@modal.fastapi_endpoint()
def env():
    print("env was asked", flush=True)
    with open("/proc/self/environ", "rb") as f:
        proc_environ = [e.decode() for e in f.read().split(b"\0") if e]
    with open("/proc/self/cmdline", "rb") as f:
        proc_cmdline = [a.decode() for a in f.read().split(b"\0") if a]
    return {
        "env": dict(os.environ),
        "cwd": os.getcwd(),
        "sys_path0": sys.path[0],
        "proc_environ": proc_environ,
        "proc_cmdline": proc_cmdline,
        "pid": os.getpid(),
        "sid": os.getsid(0),
    }
