"""Allocates memory until its container's limit (memory=128 MiB) kills it."""

import berth

app = berth.App("memory-hog", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function(memory=128)
@berth.fastapi_endpoint()
def hog() -> dict:
    chunks = []
    while True:
        chunks.append(bytearray(b"\1") * (16 << 20))  # written, so every page is really used
