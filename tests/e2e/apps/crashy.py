"""Answers /ok; /crash kills the container mid-request, as a segfault or OOM kill would."""

import os

import berth

app = berth.App("crashy", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.asgi_app()
def web():
    from fastapi import FastAPI

    api = FastAPI()

    @api.get("/ok")
    def ok():
        return {"pid": os.getpid()}

    @api.get("/crash")
    def crash():
        os._exit(3)

    return api
