"""The dashboard's views and pages: what ListApps/ListContainers say, assembled; markup escaped."""

from __future__ import annotations

import json

from berth.v1 import control_pb2
from services.edge.dashboard import overview, pages, stats
from services.edge.dashboard.templates import Html, render, script_json

SCRIPT = "<script>alert(1)</script>"


def app(name: str = "shop", **fields: object) -> control_pb2.AppSummary:
    summary = control_pb2.AppSummary(name=name, version=3, state="deployed", deployed_at_ms=1_700_000_000_000)
    summary.urls.add(function="web", url=f"http://local--{name}-web.localhost:8000/")
    for key, value in fields.items():
        setattr(summary, key, value)
    return summary


def container(function: str, state: str, app_name: str = "shop") -> control_pb2.ContainerSummary:
    return control_pb2.ContainerSummary(
        container_id=f"c-{function}-{state}", app=app_name, function=function, state=state
    )


def test_functions_come_with_their_figures_containers_and_cold_starts() -> None:
    figures = {
        ("live.shop", "web"): stats.Figures(requests=12, per_minute=4.0, p50=0.012, p99=0.5, error_rate=0.25)
    }
    cold = {("live.shop", "web"): stats.ColdStarts(2, 1.5)}
    rows = [container("web", "ready"), container("web", "booting"), container("worker", "ready")]
    [view] = overview.assemble([app()], rows, figures, cold)
    web, worker = view.functions
    assert (web.function, web.url, web.key) == (
        "web",
        "http://local--shop-web.localhost:8000/",
        "live.shop/web",
    )
    assert web.values == {
        "state": "deployed",
        "containers": "2 (1 booting, 1 ready)",
        "requests": "12",
        "per_minute": "4",
        "p50": "12.0 ms",
        "p99": "500.0 ms",
        "error_rate": "25.0%",
        "cold_starts": "2 (avg 1.50 s)",
    }
    # A function without a URL (no web endpoint) still shows, from its containers.
    assert (worker.function, worker.url, worker.values["containers"], worker.values["p50"]) == (
        "worker",
        "",
        "1",
        "-",
    )


def test_a_crash_looping_function_is_failing_with_its_last_error() -> None:
    summary = app(state="failing")
    summary.failing.add(function="web", last_error="ImportError: no module named nope", failures=3)
    [view] = overview.assemble([summary], [], {}, {})
    assert view.functions[0].values["state"] == "failing"
    assert view.error == "web: ImportError: no module named nope"
    payload = overview.live([view])
    assert payload["apps"]["live.shop"]["state"] == "failing"
    assert payload["functions"]["live.shop/web"]["error"] == "ImportError: no module named nope"


def test_served_apps_are_apart_from_deployed_ones() -> None:
    served = app(ephemeral=True)
    figures = {("dev.shop", "web"): stats.Figures(1, 1.0, None, None, None)}
    rows = [control_pb2.ContainerSummary(app="shop", ephemeral=True, function="web", state="ready")]
    [view] = overview.assemble([served], rows, figures, {})
    assert view.key == "dev.shop" and view.functions[0].values["requests"] == "1"
    assert pages.app_href("shop", True, "web") == "/dashboard/apps/shop/web?dev=1"


def test_values_are_escaped_unless_already_markup() -> None:
    assert render("<p>$x</p>", x=SCRIPT) == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert render("<p>$x</p>", x=Html("<b>ok</b>")) == "<p><b>ok</b></p>"
    assert render('<a title="$x">', x='" onclick="x') == '<a title="&quot; onclick=&quot;x">'


def test_event_json_holds_no_markup_characters() -> None:
    text = script_json({"text": f"{SCRIPT} & more"})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"text": f"{SCRIPT} & more"}


def test_pages_escape_names_errors_and_messages() -> None:
    summary = app(name="shop", state="failing")
    summary.failing.add(function="web", last_error=SCRIPT)
    [view] = overview.assemble([summary], [], {}, {})
    for html in (
        pages.overview([view], csrf="t0k", flash=SCRIPT),
        pages.app_page(view, "", [], [], csrf="t0k"),
        pages.problem(404, f"no app named {SCRIPT!r}"),
        pages.login(SCRIPT, "/dashboard/"),
    ):
        assert SCRIPT not in html and "&lt;script&gt;" in html


def test_a_logged_in_page_has_the_script_and_a_csrf_protected_logout() -> None:
    html = pages.overview([], csrf="t0k")
    assert '<script src="/dashboard/static/dashboard.js" defer></script>' in html
    assert 'action="/dashboard/logout"' in html and 'name="csrf" value="t0k"' in html
    assert "this edge" in html  # the figures are this edge's traffic, and the page says so
    login = pages.login()
    assert "dashboard.js" not in login and "csrf" not in login


def test_versions_other_than_the_serving_one_have_a_rollback_button() -> None:
    [view] = overview.assemble([app()], [], {}, {})
    versions = [
        control_pb2.AppVersion(version=3, state="serving", deployed_by="ci"),
        control_pb2.AppVersion(version=2, state="replaced", deployed_by="ci"),
    ]
    html = pages.app_page(view, "web", [], versions, csrf="t0k")
    assert 'data-rollback="2"' in html and 'data-rollback="3"' not in html
    assert 'action="/dashboard/rollback/shop"' in html
    assert 'data-logs="/dashboard/logs/shop?function=web"' in html
