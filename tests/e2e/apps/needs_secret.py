"""Reads its greeting from a secret."""

import os

import berth

app = berth.App("needs-secret", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function(secrets=[berth.Secret.from_name("greeting-secret")])
@berth.fastapi_endpoint()
def greet():
    return os.environ["GREETING"]
