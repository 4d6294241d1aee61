"""A FastAPI endpoint that answers a POST with facts about the container it runs in."""

import berth as modal

app = modal.App("docker-echo")
image = modal.Image.debian_slim().pip_install("fastapi[standard]").env({"GREETING": 'hi "there" $HOME'})


@app.function(image=image)
@modal.fastapi_endpoint(method="POST")
def echo(item: dict):
    import os
    import sys

    return {
        "x2": item["x"] * 2,
        "greeting": os.environ.get("GREETING"),
        "in_docker": os.path.exists("/.dockerenv"),
        "python": sys.executable,
        "cwd": os.getcwd(),
    }
