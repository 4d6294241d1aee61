"""`Function.from_name` / `Cls.from_name`: finding which copy of an app serves a function.

Outside a container the deploy API answers (`LookupFunction`): the deployed app if there is one,
else the copy `berth serve` / `berth run` serves. Inside a container there is no API token: calls
go to the deployed app, or to the container's own copy when it names its own app, and the edge
says 404 if there is no such function.
"""

from __future__ import annotations

import threading

from . import _calls
from ._errors import NotFoundError


class LookedUp:
    """A function known by (app, name); resolved once, at the first call."""

    def __init__(self, app: str, function: str) -> None:
        self.app = app
        self.function = function
        self.generator: bool | None = None
        self._target: _calls.Target | None = None
        self._lock = threading.Lock()

    def target(self) -> _calls.Target:
        with self._lock:
            if self._target is None:
                self._target = self._resolve()
            return self._target

    def _resolve(self) -> _calls.Target:
        from ._runtime import call_client

        client = call_client.current()
        if client is not None:
            dev = client.dev and self.app == client.app
            return _calls.Target(self.app, self.function, dev)
        import grpc  # not in containers' environments: imported only outside them

        from .cli.client import Api, translate
        from .v1 import control_pb2

        api = Api()
        found = None
        try:
            first: grpc.RpcError | None = None
            for dev in (False, True):  # the deployed app first, as the hosted service would
                request = control_pb2.LookupFunctionRequest(app=self.app, function=self.function, dev=dev)
                try:
                    found = api.control.LookupFunction(request, metadata=api.metadata)
                    break
                except grpc.RpcError as exc:
                    if exc.code() != grpc.StatusCode.NOT_FOUND:
                        raise translate(exc) from None
                    first = first or exc
            if found is None:
                # Neither copy has it: the deployed app's answer names what is missing.
                raise translate(first) if first is not None else NotFoundError(self.function)
        finally:
            api.close()
        self.generator = found.generator
        return _calls.Target(found.app or self.app, found.function or self.function, found.dev)
