"""Another app claiming the label `my-api`, which `labelled.py` already holds."""

import berth

app = berth.App("label-thief")


@app.function()
@berth.fastapi_endpoint(label="my-api")
def grab():
    return "mine"
