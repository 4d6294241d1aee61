"""The Host header of a request: exactly one, well formed, naming a label an app could have.

Pure functions, decided before anything touches the bus: a malformed or repeated Host is a 400, and
a label no deploy could ever produce (services/scheduler/urls.py) is a 404 without a KV read.

A host whose first label is not an app's may be a custom domain some function claimed: its route is
under the whole name (`Host.key`), which holds dots where an app label never does, so the two kinds
of key cannot meet. Names that cannot be custom domains (one label, IP addresses) are never looked up.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from berth._domains import DomainError, normalize_domain

MAX_NAME = 253  # a whole DNS name; each label 1-63 (urls.py shortens app labels to fit)

# RFC 1123 host names (letters, digits, dashes; labels of 1-63), an IPv4 address (the same
# characters), or a bracketed IPv6 literal; then an optional port. Matched on the lowercased text.
_HOST = re.compile(
    r"(?:[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63})*\.?|\[[0-9a-f:.]{2,45}\])(?::[0-9]{1,5})?", re.ASCII
)
# What urls.host_label() produces: `{workspace}--{name}`, where the workspace is normalized
# (letters and digits joined by single dashes) and the name is never empty (a shortened one may
# hold any dashes, so only its alphabet is checked).
_APP_LABEL = re.compile(r"([a-z0-9]+(?:-[a-z0-9]+)*)--[a-z0-9-]+", re.ASCII)


class BadHost(ValueError):
    """The request's Host header is missing, repeated or malformed: answered with a 400."""


@dataclass(frozen=True, slots=True)
class Host:
    text: str  # the header as sent, for messages
    label: str  # the first DNS label, lowercased, port stripped
    workspace: str  # the label's workspace; "" when the label is not an app's (the edge's own pages)
    possible: bool  # False: an app label no deploy can produce (a 404 without any lookup)
    # The whole name, lowercased, without port or trailing dot, when it could be a custom domain
    # (berth._domains: two labels or more, not an IP address); "" otherwise.
    domain: str = ""

    @property
    def is_app(self) -> bool:
        return "--" in self.label

    @property
    def key(self) -> str:
        """The routes bucket's key for this host: the app label, else the custom domain."""
        return self.label if self.is_app else self.domain


def host_header(headers: Iterable[tuple[bytes, bytes]]) -> str:
    """The one Host header among `headers` (ASGI: lowercase names); BadHost if none or several."""
    found: bytes | None = None
    for name, value in headers:
        if name == b"host":
            if found is not None:
                raise BadHost("more than one Host header")
            found = value
    if found is None:
        raise BadHost("a Host header is required")
    return found.decode("latin-1")


@functools.lru_cache(maxsize=1024)
def parse(text: str) -> Host:
    """Checks a Host header's syntax and finds its app label. Cached: clients repeat their hosts."""
    lowered = text.lower()
    if len(lowered) > MAX_NAME + 6 or not _HOST.fullmatch(lowered):
        raise BadHost(f"malformed Host header {text[:80]!r}")
    if lowered.startswith("["):
        return Host(text=text, label="", workspace="", possible=True)
    name = lowered.split(":", 1)[0].removesuffix(".")
    label = name.split(".", 1)[0]
    if "--" not in label:
        return Host(text=text, label=label, workspace="", possible=True, domain=_domain(name))
    app = _APP_LABEL.fullmatch(label)
    if app is None:
        return Host(text=text, label=label, workspace="", possible=False)
    return Host(text=text, label=label, workspace=app.group(1), possible=True)


def _domain(name: str) -> str:
    try:
        return normalize_domain(name)
    except DomainError:
        return ""


def request_host(headers: Iterable[tuple[bytes, bytes]]) -> Host:
    return parse(host_header(headers))
