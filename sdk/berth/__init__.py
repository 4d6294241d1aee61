"""Berth: self-hosted serverless web endpoints for Python.

Write an app file, then `berth deploy app.py`::

    import berth

    image = berth.Image.debian_slim().pip_install("fastapi[standard]")
    app = berth.App("demo", image=image)

    @app.function()
    @berth.fastapi_endpoint(method="POST")
    def square(item: dict):
        return {"square": item["x"] ** 2}

Code written for Modal's web endpoints runs with `import berth as modal`.
"""

from ._app import App
from ._cls import Cls, parameter
from ._errors import AuthError, Error, InvalidError, NotFoundError
from ._function import Function
from ._image import Image
from ._partial import asgi_app, concurrent, enter, exit, fastapi_endpoint, web_endpoint, web_server, wsgi_app
from ._secret import Secret

__all__ = [
    "App",
    "AuthError",
    "Cls",
    "Error",
    "Function",
    "Image",
    "InvalidError",
    "NotFoundError",
    "Secret",
    "asgi_app",
    "concurrent",
    "enter",
    "exit",
    "fastapi_endpoint",
    "parameter",
    "web_endpoint",
    "web_server",
    "wsgi_app",
]
