"""HTML made safe by construction: every value put into a template is escaped unless it is `Html`
(markup this package built from escaped parts), so app names, log lines and API messages can hold
`<script>` and still show as text."""

from __future__ import annotations

import html
import json
import string
from collections.abc import Iterable


class Html(str):
    """Markup that is already safe: escaped parts joined by this package's own templates."""

    __slots__ = ()


def escape(value: object) -> Html:
    if isinstance(value, Html):
        return value
    return Html(html.escape(str(value), quote=True))


def render(template: str, **values: object) -> Html:
    """`template` ($name placeholders) with each value escaped, unless it is Html already."""
    return Html(string.Template(template).substitute({k: escape(v) for k, v in values.items()}))


def join(parts: Iterable[Html]) -> Html:
    return Html("".join(escape(p) for p in parts))


def script_json(value: object) -> str:
    """JSON for an SSE data line or a data-* attribute: no raw `<`, `>`, `&` or line breaks."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title · Berth</title>
<link rel="stylesheet" href="/dashboard/static/dashboard.css">
$script
</head>
<body>
<header>
<a class="brand" href="/dashboard/">Berth</a>
$nav
</header>
<main>
$flash
$body
</main>
</body>
</html>
"""

SCRIPT = '<script src="/dashboard/static/dashboard.js" defer></script>'

NAV = """<form class="logout" method="post" action="/dashboard/logout">
<input type="hidden" name="csrf" value="$csrf">
<button type="submit">Log out</button>
</form>"""


def page(title: str, body: Html, *, csrf: str = "", flash: str = "", error: bool = False) -> Html:
    """A whole page; with `csrf` (a logged-in session) it has the script and the logout button."""
    notice = (
        render('<p class="$kind">$text</p>', kind="error" if error else "flash", text=flash) if flash else ""
    )
    return render(
        LAYOUT,
        title=title,
        script=Html(SCRIPT) if csrf else Html(""),
        nav=render(NAV, csrf=csrf) if csrf else Html(""),
        flash=notice,
        body=body,
    )
