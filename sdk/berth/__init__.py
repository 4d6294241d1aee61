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

from typing import TYPE_CHECKING as _TYPE_CHECKING

from . import exception as exception
from . import experimental as experimental
from ._app import App, Stub
from ._cls import Cls, parameter
from ._errors import AuthError, Error, InvalidError, NotFoundError
from ._function import Function
from ._function_call import FunctionCall
from ._image import Image
from ._methods import method
from ._partial import asgi_app, concurrent, enter, exit, fastapi_endpoint, web_endpoint, web_server, wsgi_app
from ._secret import Secret
from .exception import NotSupportedError

__all__ = [
    "App",
    "AuthError",
    "Cls",
    "Error",
    "Function",
    "FunctionCall",
    "Image",
    "InvalidError",
    "NotFoundError",
    "NotSupportedError",
    "Secret",
    "Stub",
    "asgi_app",
    "concurrent",
    "enter",
    "exit",
    "fastapi_endpoint",
    "method",
    "parameter",
    "web_endpoint",
    "web_server",
    "wsgi_app",
]

if not _TYPE_CHECKING:  # at run time only, so mypy still flags a mistyped berth name

    def __getattr__(name: str) -> object:
        """`berth.Dict`, `berth.Volume`, ...: hosted-service names Berth lacks say so, and what to do."""
        from ._compat import missing

        raise missing("berth", name, "module 'berth'")
