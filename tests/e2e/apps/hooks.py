"""Lifecycle hooks on a class and an ASGI lifespan, each printing so the logs show it ran."""

import berth

image = berth.Image.debian_slim().pip_install("fastapi[standard]")
app = berth.App("hooks", image=image)


@app.cls(scaledown_window=2)
class Counter:
    start: int = berth.parameter(default=0)

    @berth.enter()
    def open(self):
        print(f"enter ran with start={self.start}")
        self.count = self.start

    @berth.exit()
    def close(self):
        print(f"exit ran after {self.count - self.start} requests")

    @berth.fastapi_endpoint()
    def next(self):
        self.count += 1
        return self.count


@app.function(scaledown_window=2)
@berth.asgi_app()
def with_lifespan():
    from contextlib import asynccontextmanager

    from fastapi import FastAPI

    @asynccontextmanager
    async def lifespan(api: FastAPI):
        print("lifespan startup")
        yield
        print("lifespan shutdown")

    api = FastAPI(lifespan=lifespan)

    @api.get("/")
    def root():
        return "up"

    return api
