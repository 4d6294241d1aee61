"""Claims the custom domain domain_owner.py holds: refused at deploy while that app runs."""

import berth

app = berth.App("domain-thief", image=berth.Image.debian_slim().pip_install("fastapi[standard]"))


@app.function()
@berth.fastapi_endpoint(custom_domains=["api.berth-test.example"])
def thief():
    return "domain-thief"
