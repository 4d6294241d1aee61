"""A web_server whose process never listens: start-up must fail within startup_timeout, clearly."""

import berth

app = berth.App("never-listens")


@app.function()
@berth.web_server(8000, startup_timeout=2)
def server():
    import subprocess

    subprocess.Popen(["python", "-c", "import time; time.sleep(3600)"])
