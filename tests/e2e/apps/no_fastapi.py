"""A fastapi_endpoint whose image lacks FastAPI: the container must fail to start, saying why."""

import berth

app = berth.App("no-fastapi")


@app.function()
@berth.fastapi_endpoint()
def f():
    return "unreachable"
