"""An app with one function asking for a GPU: the deploy is refused naming it."""

import berth

app = berth.App("compat-gpu", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint()
def cheap():
    return "cpu is enough"


@app.function(gpu="A10G")
@berth.fastapi_endpoint()
def embed():
    return "needs a gpu"
