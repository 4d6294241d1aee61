# Guide: "ASGI apps": POST /echo returns the JSON body
import berth as modal

app = modal.App("echo-asgi")
image = modal.Image.debian_slim().pip_install("fastapi[standard]")


@app.function(image=image)
@modal.concurrent(max_inputs=100)
@modal.asgi_app()
def fastapi_app():
    from fastapi import FastAPI, Request

    web_app = FastAPI()

    @web_app.post("/echo")
    async def echo(request: Request):
        return await request.json()

    return web_app
