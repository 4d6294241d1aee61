# Guide: "Passing arguments to an endpoint": GET /?x=4 -> {"square": 16}
import berth as modal

app = modal.App("square")
image = modal.Image.debian_slim().pip_install("fastapi[standard]")


@app.function(image=image)
@modal.fastapi_endpoint()
def square(x: int):
    return {"square": x**2}
