"""Dashboard sessions: who is logged in, with which API token, and the checks on every POST.

Sessions live in the edge's memory, under a random id the browser holds in a cookie (HttpOnly,
SameSite=Strict, Secure over https, path /dashboard/). Chosen over a cookie the edge could verify
without shared state (a signed or encrypted token) because:

- the API token never leaves the edge: a cookie that carried it, even encrypted, would make a
  leaked cookie a leaked API token, usable with the CLI long after logout;
- the edge holds no key of its own to sign with, and a key shared between edges is one more secret
  to provision and rotate; server-side state needs none;
- logout really ends the session (the id is forgotten), where a self-contained cookie stays valid
  until it expires.

The price: an edge restart forgets every session and users log in again, and with several edges
behind a balancer a session is known only to the edge that made it (sticky sessions, or log in on
each). Both are acceptable for an operator's page.

Every POST carries the session's CSRF token (a hidden form field, compared in constant time) and an
Origin (else Referer) header naming this very host: a cross-site form can send neither. The cookie
is Secure when the login came over https, to the edge or to a TLS-terminating proxy in front of it
(the login form's Origin says https). Login
attempts are rate-limited per client address and overall, so tokens cannot be guessed online.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from services.edge.ratelimit import RateLimiter

COOKIE = "berth_session"
COOKIE_PATH = "/dashboard/"
LIFETIME = 12 * 3600.0  # seconds a session lasts from login, however active
MAX_SESSIONS = 1000  # the oldest goes first: a flood of logins cannot grow the edge without bound
# Login attempts: 10 per client address, then one more every 6 s; 60 overall, then one a second.
ATTEMPTS_PER_CLIENT = 10
ATTEMPTS_OVERALL = 60
ATTEMPT_WINDOW = 60.0


@dataclass
class Session:
    token: str  # the user's API token: every API call the dashboard makes on their behalf uses it
    csrf: str
    created: float
    flash: str = ""  # a message for the next page (after a POST's redirect)
    flash_error: bool = False


class Sessions:
    def __init__(
        self, clock: Callable[[], float] = time.monotonic, *, max_sessions: int = MAX_SESSIONS
    ) -> None:
        self._clock = clock
        self._max = max_sessions
        # SHA-256 of the cookie's id -> session: the table itself never holds a usable cookie.
        self._by_id: dict[str, Session] = {}

    def create(self, token: str) -> tuple[str, Session]:
        """A new session for `token`; returns the cookie's value and the session."""
        while len(self._by_id) >= self._max:
            del self._by_id[next(iter(self._by_id))]
        sid = secrets.token_urlsafe(32)
        session = Session(token=token, csrf=secrets.token_urlsafe(32), created=self._clock())
        self._by_id[_digest(sid)] = session
        return sid, session

    def get(self, sid: str) -> Session | None:
        if not sid:
            return None
        key = _digest(sid)
        session = self._by_id.get(key)
        if session is not None and self._clock() - session.created >= LIFETIME:
            del self._by_id[key]
            return None
        return session

    def end(self, sid: str) -> None:
        self._by_id.pop(_digest(sid), None)

    def end_token(self, token: str) -> None:
        """Forgets every session of a token the API refused (revoked): they log in again."""
        for key in [k for k, s in self._by_id.items() if s.token == token]:
            del self._by_id[key]

    def __len__(self) -> int:
        return len(self._by_id)


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def cookie(sid: str, *, secure: bool, max_age: int = int(LIFETIME)) -> str:
    """The Set-Cookie value for a session id ("" with max_age 0: the cookie is removed)."""
    parts = [f"{COOKIE}={sid}", f"Path={COOKIE_PATH}", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def session_id(cookie_header: str) -> str:
    """The session id in a Cookie header, "" if none."""
    for part in cookie_header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""


def csrf_ok(session: Session, sent: str) -> bool:
    return bool(sent) and hmac.compare_digest(session.csrf.encode(), sent.encode())


def same_origin(origin: str, referer: str, host: str) -> bool:
    """Whether a POST came from a page of this very host: its Origin header (else its Referer's
    origin, for the rare browser that sends none) names `host` (the request's Host header).

    The scheme is not compared: behind a proxy that terminates TLS the edge sees http while the
    page is https. A page of another scheme on the same host still lacks the session's CSRF token.
    """
    source = origin or referer
    if not source or source == "null":
        return False
    parts = urlsplit(source)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower() != ""


def page_is_https(origin: str, referer: str) -> bool:
    """Whether the page the form was on is https (a TLS-terminating proxy in front): the cookie
    must then be Secure even though the edge itself sees plain http."""
    return (origin or referer).lower().startswith("https://")


class LoginLimit:
    """Login attempts allowed per client address and overall (token buckets)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = RateLimiter(
            ATTEMPTS_PER_CLIENT / ATTEMPT_WINDOW, burst_seconds=ATTEMPT_WINDOW, clock=clock
        )
        self._overall = RateLimiter(
            ATTEMPTS_OVERALL / ATTEMPT_WINDOW, burst_seconds=ATTEMPT_WINDOW, clock=clock
        )

    def take(self, client: str) -> float:
        """0.0 if an attempt from `client` may go ahead now, else the seconds to wait."""
        wait = self._client.take(client)
        if wait:
            return wait
        return self._overall.take("")
