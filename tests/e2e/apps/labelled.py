"""A fastapi_endpoint with a custom label, its docs on, printing a marker on each call."""

import berth

app = berth.App("labelled", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint(label="my-api", docs=True)
def hello(marker: str = ""):
    print(f"marker={marker}")
    return "labelled"
