# Guide: "WSGI apps": POST /echo returns the JSON body, served by Flask on threads
import berth as modal

app = modal.App("echo-wsgi")
image = modal.Image.debian_slim().pip_install("flask")


@app.function(image=image)
@modal.concurrent(max_inputs=100)
@modal.wsgi_app()
def flask_app():
    from flask import Flask, request

    web_app = Flask(__name__)

    @web_app.post("/echo")
    def echo():
        return request.json

    return web_app
