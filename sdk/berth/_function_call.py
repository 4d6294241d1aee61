"""`FunctionCall`: a call started with `.spawn()`, whose result any process can fetch by its id."""

from __future__ import annotations

import asyncio
from typing import Any

from . import _calls
from ._errors import InvalidError


class _Get:
    """`call.get(timeout=None)`, and `await call.get.aio(timeout=None)` from async code."""

    def __init__(self, call: FunctionCall) -> None:
        self._call = call

    def __call__(self, timeout: float | None = None) -> Any:
        return _calls.result(self._call.object_id, _check_timeout(timeout))

    async def aio(self, timeout: float | None = None) -> Any:
        """The async flavour of `get`."""
        return await asyncio.to_thread(self, timeout)


def _check_timeout(timeout: float | None) -> float | None:
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0
    ):
        raise InvalidError(f"FunctionCall.get(timeout={timeout!r}): must be None or seconds >= 0")
    return None if timeout is None else float(timeout)


class FunctionCall:
    """A function call running in the background, from `f.spawn(...)`.

    `call.get(timeout=None)` waits for its result (or raises its exception); with a timeout it
    raises TimeoutError if the call has not finished by then (the call keeps running, so get()
    may be asked again). Results are kept for a while after the call ends (the platform's
    `berth-call-results` bucket), so another process may fetch one with
    `FunctionCall.from_id(call_id).get()`.
    """

    def __init__(self, object_id: str) -> None:
        if not isinstance(object_id, str) or not object_id:
            raise InvalidError(f"FunctionCall id must be a non-empty string, got {object_id!r}")
        self.object_id = object_id

    @property
    def get(self) -> _Get:
        """Waits up to `timeout` seconds (None: as long as it takes) and returns the result."""
        return _Get(self)

    @classmethod
    def from_id(cls, function_call_id: str) -> FunctionCall:
        """The call with this id (its `object_id`), e.g. one spawned by another process."""
        return cls(function_call_id)

    def __repr__(self) -> str:
        return f"<berth.FunctionCall {self.object_id}>"
