"""Custom domains: the one rule for what `custom_domains=[...]` may name.

Checked twice with the same code: by the SDK when the app file is imported, so a typo fails at
once, and by the scheduler at deploy, which also refuses names under the platform's own domain and
names another app holds (services/scheduler/urls.py).
"""

from __future__ import annotations

import re

MAX_DOMAIN = 253  # a whole DNS name
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)


class DomainError(ValueError):
    """A custom domain that can never be routed; the message says why."""


def normalize_domain(text: object) -> str:
    """`text` as the edge compares it with a Host header (lowercased, no trailing dot), or
    DomainError. A domain is a DNS name of two labels or more; an IP address, a wildcard, a port
    or a URL is not one."""
    if not isinstance(text, str) or not text.strip():
        raise DomainError(f"{text!r} is not a domain name")
    name = text.strip().lower().removesuffix(".")
    if len(name) > MAX_DOMAIN:
        raise DomainError(f"{text!r} is longer than {MAX_DOMAIN} characters")
    labels = name.split(".")
    if len(labels) < 2:
        raise DomainError(f"{text!r} is not a domain name with a dot, like 'api.example.com'")
    for label in labels:
        if not _LABEL.fullmatch(label):
            raise DomainError(
                f"{text!r} is not a domain name: {label!r} must be 1-63 letters, digits or dashes, "
                "not starting or ending with a dash (no wildcards, ports, schemes or paths)"
            )
    if labels[-1].isdigit():
        raise DomainError(f"{text!r} is an IP address, not a domain name")
    if "--" in labels[0]:
        # The edge reads a first label holding "--" as a generated app label
        # ({workspace}--{app}-{function}), so such a name could never reach the custom domain.
        raise DomainError(f"{text!r}: its first label may not contain '--' (Berth's app labels use it)")
    return name
