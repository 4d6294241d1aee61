"""Claims a custom domain: requests whose Host is api.berth-test.example reach `owner`."""

import berth

app = berth.App("domain-owner", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint(custom_domains=["API.berth-test.example"])
def owner():
    return "domain-owner"
