"""Secrets: environment variables injected into a function's containers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._compat import HostedNames
from ._errors import InvalidError


@dataclass(frozen=True)
class Secret(metaclass=HostedNames):
    """Environment variables for a function, stored on the platform or given inline.

    Use `Secret.from_name("my-secret")` for a secret created with `berth secret create`, or
    `Secret.from_dict({"KEY": "value"})` for values defined in code. Pass secrets to
    `App(secrets=[...])` or `app.function(secrets=[...])`.
    """

    name: str | None = None
    values: tuple[tuple[str, str], ...] = field(default=())

    @staticmethod
    def from_name(name: str) -> Secret:
        """A secret stored on the platform under `name` (see `berth secret create`)."""
        if not isinstance(name, str) or not name:
            raise InvalidError(f"Secret.from_name() needs a non-empty secret name, got {name!r}")
        return Secret(name=name)

    @staticmethod
    def from_dict(env_dict: Mapping[str, str | None]) -> Secret:
        """A secret whose values are given inline; keys with value None are left out."""
        if not isinstance(env_dict, Mapping):
            raise InvalidError(
                f"Secret.from_dict() needs a dict of str to str, got {type(env_dict).__name__}"
            )
        items: list[tuple[str, str]] = []
        for key, value in env_dict.items():
            if value is None:
                continue
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidError(f"Secret.from_dict() needs str keys and values, got {key!r}: {value!r}")
            items.append((key, value))
        return Secret(values=tuple(sorted(items)))


def check_secrets(secrets: Any, where: str) -> tuple[Secret, ...]:
    """Validates a `secrets=` argument and returns it as a tuple."""
    if isinstance(secrets, Secret) or isinstance(secrets, str | bytes):
        raise InvalidError(f"{where}: secrets must be a list of berth.Secret, e.g. secrets=[secret]")
    try:
        result: tuple[Any, ...] = tuple(secrets)
    except TypeError:
        raise InvalidError(f"{where}: secrets must be a list of berth.Secret") from None
    for item in result:
        if not isinstance(item, Secret):
            raise InvalidError(
                f"{where}: secrets must hold berth.Secret objects (Secret.from_name / Secret.from_dict), "
                f"got {type(item).__name__}"
            )
    return result
