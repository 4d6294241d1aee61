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
    (`f.remote`, `Image.apt_install`), so nothing half-works.
    """

    def __init__(self, feature: str, advice: str) -> None:
        super().__init__(f"{feature} is not supported by Berth: {advice}")
        self.feature = feature
        self.advice = advice


__all__ = ["AuthError", "Error", "InvalidError", "NotFoundError", "NotSupportedError"]
