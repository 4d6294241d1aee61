"""Route records for function calls: every function of an app, web or not, is callable
(`f.remote()`, `Function.from_name`), and the edge finds it by (app, function, dev) under
`_call.<dev|live>.<app>.<function>` in the routes bucket.

Why this key: host labels and custom domains never hold `_` (services/edge/hosts.py), so a call
key cannot meet a host's. JetStream KV keys allow only `-/_=.` and ASCII letters and digits, with no
leading, trailing or doubled dot: app names are normalized to letters, digits and dashes
(urls.normalize), and function names are checked here (`check_name`) when an app is deployed, so
every key written is one JetStream accepts and the edge can rebuild from a CallHead. Pure functions.
"""

from __future__ import annotations

import re

from services.common import subjects

PREFIX = "_call."
MAX_APP_NAME = 64  # services/scheduler/api.py refuses longer app names
# A Python identifier in ASCII, or Class.method: what the SDK names functions ("f", "Model.predict").
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)?")


def valid_name(function: str) -> bool:
    return _NAME.fullmatch(function) is not None


def name_problem(function: str) -> str:
    """Why `function` cannot be a callable function's name, "" if it can."""
    if valid_name(function):
        return ""
    return (
        f"function name {function!r} must be an ASCII Python identifier (or Class.method) to be "
        "callable: rename it"
    )


def key(app_key: str, function: str) -> str:
    """The routes bucket's key for `function` of app `app_key` ("live.<name>" or "dev.<name>")."""
    return f"{PREFIX}{app_key}.{function}"


def key_for(app: str, function: str, dev: bool) -> str | None:
    """The key a call for (app, function, dev) looks up; None when no deploy could have written
    it (a name that is not normalized, or a function name outside the rule): a 404 without a read."""
    if not app or len(app) > MAX_APP_NAME or not _APP.fullmatch(app) or not valid_name(function):
        return None
    return key(subjects.app_key(app, dev), function)


def is_call_key(host: str) -> bool:
    return host.startswith(PREFIX)


_APP = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
