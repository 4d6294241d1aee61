"""Parametrized classes for tests/e2e/test_parameter_sets.py: each answers with the container it
ran in, so the test can tell pools apart; `Limited` also says when its request ran."""

import berth

image = berth.Image.debian_slim().pip_install("fastapi[standard]")
app = berth.App("param-sets", image=image)


@app.cls(scaledown_window=2)
class Capped:
    name: str = berth.parameter(default="default")

    @berth.fastapi_endpoint()
    def who(self):
        import os

        return {"name": self.name, "container": os.environ["BERTH_CONTAINER_ID"]}


@app.cls(max_containers=2, scaledown_window=30)
class Limited:
    name: str = berth.parameter(default="default")

    @berth.fastapi_endpoint()
    def work(self, seconds: float = 1.0):
        import os
        import time

        start = time.time()
        time.sleep(seconds)  # the work itself: requests must overlap for the test to mean anything
        return {"container": os.environ["BERTH_CONTAINER_ID"], "start": start, "end": time.time()}
