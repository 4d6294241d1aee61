"""Host names for web functions: `{workspace}--{app}-{function}[-dev].{domain}`, and the custom
domains functions claim beside them."""

from __future__ import annotations

import hashlib
import re

from berth._domains import DomainError as DomainError
from berth._domains import normalize_domain

MAX_LABEL = 63
_NOT_ALLOWED = re.compile(r"[^a-z0-9-]+")


def normalize(text: str) -> str:
    """Lowercase letters, digits and single dashes; anything else becomes a dash."""
    cleaned = _NOT_ALLOWED.sub("-", text.lower())
    return re.sub(r"-{2,}", "-", cleaned).strip("-")


def shorten(label: str) -> str:
    """A DNS label is at most 63 characters: longer ones keep their first 56 characters, a dash
    and 6 hex digits of the SHA-256 of the whole label, so distinct labels stay distinct."""
    if len(label) <= MAX_LABEL:
        return label
    digest = hashlib.sha256(label.encode()).hexdigest()[:6]
    return f"{label[:56]}-{digest}"


def host_label(*, workspace: str, app: str, function: str, label: str = "", ephemeral: bool = False) -> str:
    name = normalize(label) if label else f"{normalize(app)}-{normalize(function)}"
    # The workspace is joined by a double dash, which normalize() never produces inside a name.
    full = f"{normalize(workspace)}--{name}{'-dev' if ephemeral else ''}"
    return shorten(full)


def url(label: str, *, domain: str, port: int, scheme: str = "http") -> str:
    default_port = 443 if scheme == "https" else 80
    suffix = "" if port == default_port else f":{port}"
    return f"{scheme}://{label}.{domain}{suffix}/"


def custom_domain(text: str, *, base_domain: str) -> str:
    """A function's custom domain as its route key (berth._domains has the DNS rule); DomainError
    for one under the platform's own domain, where it could collide with generated app labels."""
    name = normalize_domain(text)
    base = base_domain.lower().strip(".")
    if base and (name == base or name.endswith(f".{base}")):
        raise DomainError(
            f"{text!r} is under the platform's own domain {base!r}, where app URLs live; "
            "use a domain of your own"
        )
    return name
