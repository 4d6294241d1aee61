"""Another tenant's app: containers of other apps must not call it by default
(tests/e2e/test_call_boundaries.py)."""

import berth

app = berth.App("boundary-target")


@app.function()
def secret():
    return "boundary-target's secret"
