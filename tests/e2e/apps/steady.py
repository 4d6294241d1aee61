"""Answers at once, many requests to a container: a steady load holds one or two containers, so a
test can keep traffic flowing while it restarts the platform under it without crowding the host."""

import berth

app = berth.App("steady")
image = berth.Image.debian_slim().pip_install("fastapi[standard]")


@app.function(image=image, max_containers=2)
@berth.concurrent(max_inputs=16)
@berth.fastapi_endpoint()
def f():
    return "steady"
