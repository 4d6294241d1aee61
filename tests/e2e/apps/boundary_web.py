"""A web app that reports what it was sent, and a plain function (tests/e2e/test_call_boundaries.py):
a web client posting the call protocol to this app's host must reach the app, never the function."""

import json

import berth

app = berth.App("boundary-web")


@app.function()
def secret():
    print("boundary-web secret ran", flush=True)
    return "boundary-web's secret"


async def report(scope, receive, send):
    body = b""
    more = True
    while more:
        message = await receive()
        body += message.get("body", b"")
        more = message.get("more_body", False)
    answer = {
        "method": scope["method"],
        "path": scope["path"],
        "headers": {k.decode(): v.decode() for k, v in scope["headers"]},
        "body_bytes": len(body),
    }
    data = json.dumps(answer).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})


@app.function()
@berth.asgi_app()
def web():
    return report
