"""Every exception Berth raises, under the module name apps written for the hosted service use
(`modal.exception.NotFoundError` works unchanged with `import berth as modal`)."""

from __future__ import annotations

from ._errors import AuthError as AuthError
from ._errors import Error as Error
from ._errors import InvalidError as InvalidError
from ._errors import NotFoundError as NotFoundError


class NotSupportedError(Error):
    """The app uses a feature of the hosted service that Berth does not implement.

    The message names the feature and what to do instead. Raised when the name is first used:
    at import for module-level names (`berth.Dict`), when the attribute is read for methods
    (`f.spawn_map`, `Image.from_dockerfile`), so nothing half-works.
    """

    def __init__(self, feature: str, advice: str) -> None:
        super().__init__(f"{feature} is not supported by Berth: {advice}")
        self.feature = feature
        self.advice = advice


class RemoteError(Error):
    """A function raised an exception that could not be re-created here (its class does not
    unpickle in this process). Carries the remote exception's class name, message and traceback."""

    def __init__(self, type_name: str, message: str, traceback: str) -> None:
        super().__init__(f"{type_name}: {message}\n\nRemote traceback:\n{traceback}".rstrip())
        self.type_name = type_name
        self.message = message
        self.traceback = traceback


class CallFailedError(Error):
    """The platform refused or failed a function call (a non-200 answer of the edge): `status` is
    the HTTP status, `text` the platform's explanation. Specific statuses raise the subclasses
    below, or AuthError (401/403) and NotFoundError (404) with the same two attributes."""

    status: int = 0
    text: str = ""


class ResourceExhaustedError(CallFailedError):
    """The function's containers and queue are full, or a rate limit applies (HTTP 429/503)."""


class RequestSizeError(CallFailedError):
    """The call's arguments or result are larger than the platform takes (HTTP 413)."""


class FunctionTimeoutError(CallFailedError, TimeoutError):
    """The function ran longer than its `timeout` (HTTP 504)."""


__all__ = [
    "AuthError",
    "CallFailedError",
    "Error",
    "FunctionTimeoutError",
    "InvalidError",
    "NotFoundError",
    "NotSupportedError",
    "RemoteError",
    "RequestSizeError",
    "ResourceExhaustedError",
]
