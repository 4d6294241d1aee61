"""A plain fastapi_endpoint whose requests tests/e2e/test_metrics.py counts in /metrics."""

import berth

app = berth.App("metered", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint()
def ping():
    return "pong"
