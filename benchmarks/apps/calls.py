# Function-call benchmark app (benchmarks/calls.py): a trivial function, called with .remote and
# .map. Up to 8 containers of 8 inputs each, so .map's 64 calls in flight find room.
import berth

app = berth.App("bench-calls")


@app.function(max_containers=8)
@berth.concurrent(max_inputs=8)
def echo(x: int) -> int:
    return x
