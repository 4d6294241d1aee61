"""The dashboard's pages, rendered on the server from escaped parts (templates.py)."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from urllib.parse import quote, urlencode

from berth.v1 import control_pb2
from services.edge.dashboard.overview import AppView, FunctionView
from services.edge.dashboard.templates import Html, join, page, render

THIS_EDGE = (
    "Requests, requests per minute, latency and error rates are this edge's traffic only: with several "
    "edges, each one's dashboard shows what passed through it. Containers, states and cold starts are "
    "the whole platform's."
)

LOGIN = """<form class="login" method="post" action="/dashboard/login">
<h1>Berth dashboard</h1>
<p>Log in with an API token (<code>berth token create NAME</code>, or the one <code>berth up</code> wrote
to your client config).</p>
$message
<label for="token">API token</label>
<input type="password" id="token" name="token" autocomplete="off" required autofocus>
<input type="hidden" name="next" value="$next">
<button type="submit">Log in</button>
</form>"""


def login(message: str = "", next_path: str = "/dashboard/") -> Html:
    notice = render('<p class="error" id="login-error">$m</p>', m=message) if message else ""
    return page("Log in", render(LOGIN, message=notice, next=next_path))


def problem(status: int, text: str, csrf: str = "") -> Html:
    body = render(
        '<h1>$status</h1><p class="error" id="problem">$text</p>'
        '<p><a href="/dashboard/">Back to the apps</a></p>',
        status=status,
        text=text,
    )
    return page(f"Error {status}", body, csrf=csrf)


def app_href(name: str, ephemeral: bool, function: str = "") -> str:
    path = f"/dashboard/apps/{quote(name, safe='')}"
    if function:
        path += f"/{quote(function, safe='')}"
    return path + ("?dev=1" if ephemeral else "")


FUNCTION_HEAD = """<tr><th>Function</th><th>URL</th><th>State</th><th>Containers</th><th>Requests</th>
<th>Req/min</th><th>p50</th><th>p99</th><th>Errors (5xx)</th><th>Cold starts</th></tr>"""


def _cell(view: FunctionView, stat: str) -> Html:
    return render(
        '<td class="num" data-key="$key" data-stat="$stat">$value</td>',
        key=view.key,
        stat=stat,
        value=view.values[stat],
    )


def _function_row(view: FunctionView, ephemeral: bool) -> Html:
    url = render('<a href="$u">$u</a>', u=view.url) if view.url else Html("-")
    error = render('<div class="error" data-key="$k" data-stat="error">$e</div>', k=view.key, e=view.error)
    cells = [
        render(
            '<td><a href="$href">$name</a></td>',
            href=app_href(view.app, ephemeral, view.function),
            name=view.function,
        ),
        render("<td>$url</td>", url=url),
        render("<td>$state$error</td>", state=_state(view), error=error),
        *(
            _cell(view, stat)
            for stat in ("containers", "requests", "per_minute", "p50", "p99", "error_rate", "cold_starts")
        ),
    ]
    return render("<tr>$cells</tr>", cells=join(cells))


def _state(view: FunctionView) -> Html:
    return render(
        '<span class="state-$s" data-key="$k" data-stat="state">$s</span>', s=view.values["state"], k=view.key
    )


def _functions_table(functions: Iterable[FunctionView], ephemeral: bool) -> Html:
    rows = [_function_row(f, ephemeral) for f in functions]
    if not rows:
        rows = [Html('<tr><td colspan="10" class="note">no functions</td></tr>')]
    return render("<table>$head$rows</table>", head=Html(FUNCTION_HEAD), rows=join(rows))


def _app_heading(app: AppView, link: bool) -> Html:
    name = (
        render('<a href="$h">$n</a>', h=app_href(app.name, app.ephemeral), n=app.name) if link else app.name
    )
    return render(
        '<h2 class="app" data-app="$key">$name '
        '<span class="note">version $version$kind · deployed $when</span> '
        '<span class="state-$state" data-key="$key" data-stat="app-state">$state</span></h2>',
        key=app.key,
        name=name,
        version=app.version,
        kind=" (berth serve)" if app.ephemeral else "",
        when=_time(app.deployed_at_ms),
        state=app.state,
    )


def overview(apps: list[AppView], csrf: str, flash: str = "", error: bool = False) -> Html:
    sections = [
        render("$h$t", h=_app_heading(app, True), t=_functions_table(app.functions, app.ephemeral))
        for app in apps
    ]
    if not sections:
        sections = [
            Html('<p class="note">No apps are deployed. <code>berth deploy app.py</code> deploys one.</p>')
        ]
    body = render(
        '<div data-events="/dashboard/events"><h1>Apps</h1>'
        '<p class="note">$note <span id="updated"></span></p>$apps</div>',
        note=THIS_EDGE,
        apps=join(sections),
    )
    return page("Apps", body, csrf=csrf, flash=flash, error=error)


CONTAINER_HEAD = """<tr><th>Container</th><th>Function</th><th>Version</th><th>Parameters</th><th>State</th>
<th>In flight</th><th>Age</th><th>Agent</th><th></th></tr>"""


def _container_row(row: control_pb2.ContainerSummary, csrf: str, back: str) -> Html:
    stop = render(
        '<form class="inline" method="post" action="/dashboard/stop/$id">'
        '<input type="hidden" name="csrf" value="$csrf"><input type="hidden" name="back" value="$back">'
        '<button type="submit">Stop</button></form>',
        id=quote(row.container_id, safe=""),
        csrf=csrf,
        back=back,
    )
    return render(
        '<tr data-container="$id"><td><code>$id</code></td><td>$fn</td><td class="num">$version</td>'
        '<td>$params</td><td class="state-$state">$state</td><td class="num">$inflight/$max</td>'
        "<td>$age</td><td>$agent</td><td>$stop</td></tr>",
        id=row.container_id,
        fn=row.function,
        version=row.version,
        params=row.parameters or "-",
        state=row.state,
        inflight=row.inflight,
        max=row.max_inputs,
        age=_age(row.age_ms),
        agent=row.agent_id,
        stop=stop,
    )


VERSION_HEAD = "<tr><th>Version</th><th>Deployed</th><th>State</th><th>By</th><th>Note</th><th></th></tr>"


def _version_row(app: AppView, version: control_pb2.AppVersion, csrf: str, back: str) -> Html:
    button = Html("")
    if version.state != "serving" and app.state != "stopped":
        button = render(
            '<form class="inline" method="post" action="/dashboard/rollback/$app">'
            '<input type="hidden" name="csrf" value="$csrf"><input type="hidden" name="version" value="$v">'
            '<input type="hidden" name="back" value="$back">'
            '<button type="submit" data-rollback="$v">Roll back to $v</button></form>',
            app=quote(app.name, safe=""),
            csrf=csrf,
            v=version.version,
            back=back,
        )
    note = f"rollback to {version.rollback_of}" if version.rollback_of else ""
    return render(
        '<tr><td class="num">$v</td><td>$when</td><td class="state-$state">$state</td>'
        "<td>$by</td><td>$note</td>"
        "<td>$button</td></tr>",
        v=version.version,
        when=_time(version.deployed_at_ms),
        state=version.state,
        by=version.deployed_by or "-",
        note=note,
        button=button,
    )


def app_page(
    app: AppView,
    function: str,
    containers: list[control_pb2.ContainerSummary],
    versions: list[control_pb2.AppVersion],
    csrf: str,
    flash: str = "",
    error: bool = False,
) -> Html:
    back = app_href(app.name, app.ephemeral, function)
    functions = [f for f in app.functions if not function or f.function == function]
    rows = [_container_row(c, csrf, back) for c in containers if not function or c.function == function]
    if not rows:
        rows = [
            Html('<tr><td colspan="9" class="note">no containers (one boots on the next request)</td></tr>')
        ]
    if app.ephemeral:
        history = Html('<p class="note">Served with <code>berth serve</code>: no versions are kept.</p>')
    else:
        history = render(
            "<table>$head$rows</table>",
            head=Html(VERSION_HEAD),
            rows=join(_version_row(app, v, csrf, back) for v in versions),
        )
    query = {"function": function} if function else {}
    if app.ephemeral:
        query["dev"] = "1"
    logs_url = f"/dashboard/logs/{quote(app.name, safe='')}" + (f"?{urlencode(query)}" if query else "")
    title = f"{app.name} · {function}" if function else app.name
    crumbs = render(
        '<p class="note"><a href="/dashboard/">Apps</a> / <a href="$h">$n</a>$f</p>',
        h=app_href(app.name, app.ephemeral),
        n=app.name,
        f=f" / {function}" if function else "",
    )
    body = render(
        '<div data-events="/dashboard/events">$crumbs$heading'
        '<p class="note">$note <span id="updated"></span></p>'
        "<h2>Functions</h2>$functions<h2>Containers</h2><table>$chead$containers</table>"
        "<h2>Versions</h2>$history"
        '<h2>Logs <span class="note" id="logs-status">connecting…</span></h2>'
        '<div id="logs" data-logs="$logs"></div></div>',
        crumbs=crumbs,
        heading=_app_heading(app, False),
        note=THIS_EDGE,
        functions=_functions_table(functions, app.ephemeral),
        chead=Html(CONTAINER_HEAD),
        containers=join(rows),
        history=history,
        logs=logs_url,
    )
    return page(title, body, csrf=csrf, flash=flash, error=error)


def _time(ms: int) -> str:
    if not ms:
        return "-"
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _age(ms: int) -> str:
    if not ms:
        return "-"
    seconds = ms // 1000
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h"
