"""Exact formats of the ids and paths that arrive over the bus or gRPC.

A value from a message may become a file name, a NATS subject or a Docker argument, so each is
checked against the exact format its producer makes (the scheduler, the builder, the edge) before
it is used; anything else raises InvalidId. Matching is `fullmatch` over ASCII classes, so `..`,
`/`, NUL, newlines, unicode look-alikes and NATS wildcards can never slip through a looser pattern.
"""

from __future__ import annotations

import posixpath
import re

# Longest value echoed back in an error: a forged megabyte id must not flood the logs.
_SHOWN = 80
_MAX_PATH = 4096


class InvalidId(ValueError):
    """A value that is not in the format its field requires."""

    def __init__(self, field: str, value: str, expected: str) -> None:
        self.field = field
        self.value = value
        self.expected = expected
        shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "..."
        super().__init__(f"invalid {field} {shown!r}: expected {expected}")


def _check(pattern: re.Pattern[str], value: str, field: str, expected: str) -> str:
    if pattern.fullmatch(value) is None:
        raise InvalidId(field, value, expected)
    return value


# services/scheduler/assignment.py: f"c{uuid.uuid4().hex[:12]}".
_CONTAINER_ID = re.compile(r"c[0-9a-f]{12}")
# sha256 hex: bundle ids (scheduler api.py) and image ids (builder spec_hash.py).
_SHA256 = re.compile(r"[0-9a-f]{64}")
# services/builder/docker_build.py image_tag(): the repository and 32 hex digits of the image id.
DOCKER_IMAGE_REPO = "berth-img"
_DOCKER_TAG = re.compile(re.escape(DOCKER_IMAGE_REPO) + r":[0-9a-f]{32}")
# subjects.app_key(): "live." or "dev." and a name urls.normalize() made (at most 64 characters).
_APP_KEY = re.compile(r"(?:live|dev)\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
# One literal NATS subject token: printable ASCII but the separator '.' and the wildcards '*', '>'.
_TOKEN = r"(?:(?![.*>])[\x21-\x7e]){1,128}"
# subjects.edge_response(): the reply subject an edge names a request stream by.
_EDGE_REPLY = re.compile(r"berth\.resp\." + _TOKEN + r"\.[0-9]{1,20}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# subjects.caller_reply() and subjects.call_stream(): the two ends of a call a container made.
_CALLER_REPLY = re.compile(r"berth\.caller\.(" + _TOKEN + r")\.(c[0-9a-f]{12})\.([0-9]{1,20})")
_CALL_STREAM = re.compile(r"berth\.call\.(" + _TOKEN + r")\.(" + _TOKEN + r")\.([0-9]{1,20})")


def container_id(value: str) -> str:
    return _check(_CONTAINER_ID, value, "container id", "'c' and 12 lowercase hex digits")


def bundle_id(value: str) -> str:
    return _check(_SHA256, value, "bundle id", "64 lowercase hex digits (sha256)")


def image_id(value: str) -> str:
    return _check(_SHA256, value, "image id", "64 lowercase hex digits (sha256)")


def docker_image_tag(value: str) -> str:
    return _check(_DOCKER_TAG, value, "image", f"a Berth-built image ({DOCKER_IMAGE_REPO}:<32 hex digits>)")


def app_key(value: str) -> str:
    return _check(_APP_KEY, value, "app key", "'live.' or 'dev.' and an app name")


def edge_reply_subject(value: str) -> str:
    return _check(_EDGE_REPLY, value, "reply subject", "berth.resp.<edge id>.<stream number>")


def caller_reply_subject(value: str, agent_id: str) -> tuple[str, int]:
    """(container id, stream id) of a caller_reply subject of agent `agent_id`."""
    found = _CALLER_REPLY.fullmatch(value)
    if found is None or found.group(1) != agent_id:
        raise InvalidId("caller reply subject", value, f"berth.caller.{agent_id}.<container id>.<stream>")
    return found.group(2), int(found.group(3))


def call_stream_subject(value: str, agent_id: str) -> str:
    """A call_stream subject naming agent `agent_id` (as an edge gives it for its reply)."""
    found = _CALL_STREAM.fullmatch(value)
    if found is None or found.group(1) != agent_id:
        raise InvalidId("call stream subject", value, f"berth.call.{agent_id}.<edge id>.<stream>")
    return value


def absolute_path(value: str, field: str) -> str:
    """An absolute, normalized POSIX path: no `..`, no `//`, no control characters."""
    ok = (
        0 < len(value) <= _MAX_PATH
        and value.startswith("/")
        and posixpath.normpath(value) == value
        and not value.startswith("//")  # normpath keeps a leading '//' (POSIX allows it)
        and not _CONTROL.search(value)
    )
    if not ok:
        raise InvalidId(field, value, "an absolute, normalized path")
    return value


def relative_path(value: str, field: str) -> str:
    """A normalized path inside some directory: not absolute, no `..` part, no control characters."""
    parts = value.split("/")
    ok = (
        0 < len(value) <= 255
        and not value.startswith("/")
        and posixpath.normpath(value) == value
        and ".." not in parts
        and value != "."
        and not _CONTROL.search(value)
    )
    if not ok:
        raise InvalidId(field, value, "a relative path with no '..'")
    return value
