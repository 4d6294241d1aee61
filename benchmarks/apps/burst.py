# Burst benchmark app: one input per container, at most 20 containers, a 200 ms handler.
import time

import berth

app = berth.App("bench-burst")
image = berth.Image.debian_slim().pip_install("fastapi[standard]")


@app.function(image=image, max_containers=20)
@berth.fastapi_endpoint()
def nap():
    time.sleep(0.2)
    return "ok"
