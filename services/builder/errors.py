"""Named build errors, each carrying the gRPC status the API answers with."""

from __future__ import annotations

import grpc


class BuildError(Exception):
    """Root of every error a Build call reports to its caller."""

    code = grpc.StatusCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSpec(BuildError):
    """The spec cannot be built on this runtime at all (bad python_version, bad paths)."""

    code = grpc.StatusCode.INVALID_ARGUMENT


class BuildFailed(BuildError):
    """A build step failed; the message names the step and carries the tool's error text."""

    code = grpc.StatusCode.FAILED_PRECONDITION


class BuildTimedOut(BuildError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class RuntimeNotSupported(BuildError):
    code = grpc.StatusCode.UNIMPLEMENTED
