"""Dashboard sessions, cookies, CSRF and Origin checks, login limits: pure, clocked from outside;
and the edge's flags naming the API the dashboard calls."""

from __future__ import annotations

import pytest

from services.common import config
from services.edge.dashboard import session
from services.edge.main import DEFAULT_API, parse_config


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_session_is_found_by_its_cookie_and_holds_the_token() -> None:
    sessions = session.Sessions(Clock())
    sid, created = sessions.create("bt_secret")
    assert sessions.get(sid) is created and created.token == "bt_secret"
    assert sessions.get("") is None and sessions.get(sid + "x") is None
    assert len(created.csrf) >= 32 and created.csrf != sid


def test_sessions_end_on_logout_after_their_lifetime_and_when_their_token_is_refused() -> None:
    clock = Clock()
    sessions = session.Sessions(clock)
    a, _ = sessions.create("bt_a")
    b, _ = sessions.create("bt_b")
    c, _ = sessions.create("bt_a")
    sessions.end(a)
    assert sessions.get(a) is None and sessions.get(b) is not None
    sessions.end_token("bt_a")
    assert sessions.get(c) is None and sessions.get(b) is not None
    clock.now += session.LIFETIME
    assert sessions.get(b) is None


def test_the_table_is_bounded_and_forgets_the_oldest() -> None:
    sessions = session.Sessions(Clock(), max_sessions=2)
    first, _ = sessions.create("bt_1")
    sessions.create("bt_2")
    third, _ = sessions.create("bt_3")
    assert len(sessions) == 2 and sessions.get(first) is None and sessions.get(third) is not None


def test_the_cookie_is_httponly_strict_and_secure_over_https() -> None:
    plain = session.cookie("abc", secure=False)
    assert plain.startswith("berth_session=abc;")
    assert "HttpOnly" in plain and "SameSite=Strict" in plain and "Path=/dashboard/" in plain
    assert "Secure" not in plain
    assert session.cookie("abc", secure=True).endswith("; Secure")
    assert "Max-Age=0" in session.cookie("", secure=False, max_age=0)


def test_the_session_id_is_read_from_a_cookie_header() -> None:
    assert session.session_id("a=1; berth_session=xyz; b=2") == "xyz"
    assert session.session_id("berth_sessionx=1") == ""
    assert session.session_id("") == ""


def test_csrf_tokens_must_match_exactly() -> None:
    _, current = session.Sessions(Clock()).create("bt_x")
    assert session.csrf_ok(current, current.csrf)
    assert not session.csrf_ok(current, "")
    assert not session.csrf_ok(current, current.csrf + "x")


def test_origin_must_name_this_host_else_the_referer_must() -> None:
    ok = session.same_origin
    assert ok("http://localhost:8000", "", "localhost:8000")
    assert ok("HTTP://LOCALHOST:8000", "", "localhost:8000")
    # Behind a TLS-terminating proxy the page is https while the edge sees http: the host decides.
    assert ok("https://berth.example", "", "berth.example")
    assert not ok("http://evil.example", "", "localhost:8000")
    assert not ok("http://localhost:8001", "", "localhost:8000")
    assert not ok("null", "http://localhost:8000/dashboard/", "localhost:8000")  # Origin wins
    assert ok("", "http://localhost:8000/dashboard/apps/x", "localhost:8000")
    assert not ok("", "http://localhost:8000.evil.example/", "localhost:8000")
    assert not ok("", "", "localhost:8000")
    assert not ok("file://localhost:8000", "", "localhost:8000")


def test_a_login_from_an_https_page_gets_a_secure_cookie() -> None:
    assert session.page_is_https("https://berth.example", "")
    assert session.page_is_https("", "https://berth.example/dashboard/login")
    assert not session.page_is_https("http://localhost:8000", "")


def test_login_attempts_are_limited_per_client_then_refill() -> None:
    clock = Clock()
    limit = session.LoginLimit(clock)
    assert all(limit.take("192.0.2.1") == 0 for _ in range(session.ATTEMPTS_PER_CLIENT))
    wait = limit.take("192.0.2.1")
    assert wait > 0
    assert limit.take("192.0.2.2") == 0  # another client has its own budget
    clock.now += wait
    assert limit.take("192.0.2.1") == 0


def test_login_attempts_are_limited_overall() -> None:
    limit = session.LoginLimit(Clock())
    allowed = sum(limit.take(f"198.51.100.{n}") == 0 for n in range(200))
    assert allowed == session.ATTEMPTS_OVERALL


def test_the_edge_is_told_where_the_api_is(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BERTH_API", raising=False)
    monkeypatch.delenv("BERTH_API_CA_FILE", raising=False)
    cfg = parse_config([])
    assert (cfg.api, cfg.api_ca_file) == (DEFAULT_API, "")
    monkeypatch.setenv("BERTH_API", "scheduler:7100")
    assert parse_config([]).api == "scheduler:7100"
    cfg = parse_config(["--api", "10.0.0.5:7100", "--api-ca-file", "/etc/berth/ca.pem"])
    assert (cfg.api, cfg.api_ca_file) == ("10.0.0.5:7100", "/etc/berth/ca.pem")
    assert "api=10.0.0.5:7100" in config.describe(cfg)  # printed at start with the rest
