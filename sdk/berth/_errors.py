"""The exceptions Berth raises: one root class, one subclass per kind of failure."""

from __future__ import annotations


class Error(Exception):
    """Root of every exception Berth raises; catch this to handle any Berth failure."""


class InvalidError(Error):
    """Something in the app's definition or a request is invalid; the message says how to fix it."""


class NotFoundError(Error):
    """A named object (app, function, secret, file) does not exist."""


class AuthError(Error):
    """The caller is not authenticated or not allowed to do this."""
