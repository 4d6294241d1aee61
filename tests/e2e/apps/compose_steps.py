"""A `run_commands` step under deploy/docker-compose.yml: the builder runs in a container there,
so the step's scratch directory must be one the engine sees at the same path."""

import berth

app = berth.App("compose-steps")
image = (
    berth.Image.debian_slim()
    .pip_install("fastapi[standard]")
    .run_commands("echo built-in-a-step > /opt/berth-compose-step.txt")
)


@app.function(image=image)
@berth.fastapi_endpoint()
def marker():
    with open("/opt/berth-compose-step.txt") as f:
        return f.read().strip()
