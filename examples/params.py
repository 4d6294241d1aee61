# Guide: "Serve many configurations with parametrized functions": GET /?greeting=Hi
import berth as modal

app = modal.App("params", image=modal.Image.debian_slim().pip_install("fastapi[standard]"))


@app.cls()
@modal.concurrent(max_inputs=10)
class Greeter:
    greeting: str = modal.parameter(default="Hello")
    excited: bool = modal.parameter(default=False)

    @modal.enter()
    def start(self):
        self.suffix = "!" if self.excited else "."

    @modal.fastapi_endpoint()
    def greet(self, name: str = "world"):
        return f"{self.greeting}, {name}{self.suffix}"
