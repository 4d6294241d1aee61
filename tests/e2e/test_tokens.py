"""API tokens through the CLI: create one, use it, list it without its secret, revoke it and see
it refused within seconds, while the platform's own token keeps working."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.e2e.conftest import Platform

pytestmark = pytest.mark.xdist_group("cli")

REVOKE_DEADLINE = 10.0


def with_token(platform: Platform, token: str) -> dict[str, str]:
    # Same platform and config.toml; BERTH_TOKEN overrides the token found there.
    return {**platform.env, "BERTH_TOKEN": token}


def test_token_create_use_list_revoke(platform: Platform) -> None:
    name = f"ci-{uuid.uuid4().hex[:8]}"
    created = platform.berth("token", "create", name, timeout=30)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("bt_") and "\n" not in token
    assert "will not be shown again" in created.stderr and token not in created.stderr

    used = platform.berth("app", "list", env=with_token(platform, token), timeout=30)
    assert used.returncode == 0, used.stderr

    again = platform.berth("token", "create", name, timeout=30)
    assert again.returncode != 0 and "already exists" in again.stderr, again.stderr

    listed = platform.berth("token", "list", timeout=30)
    assert listed.returncode == 0 and name in listed.stdout, listed.stderr
    as_json = platform.berth("token", "list", "--json", timeout=30)
    assert as_json.returncode == 0, as_json.stderr
    rows = {row["name"]: row for row in json.loads(as_json.stdout)}
    assert set(rows[name]) == {"name", "created", "last_used"} and rows[name]["created"]
    assert rows[name]["last_used"], "the call made with it is recorded"
    for result in (listed, as_json):
        assert token not in result.stdout + result.stderr
        assert token.removeprefix("bt_") not in result.stdout

    revoked = platform.berth("token", "revoke", name, env=with_token(platform, token), timeout=30)
    assert revoked.returncode == 0, revoked.stderr
    deadline = time.monotonic() + REVOKE_DEADLINE
    while True:
        refused = platform.berth("app", "list", env=with_token(platform, token), timeout=30)
        if refused.returncode != 0:
            break
        assert time.monotonic() < deadline, f"a revoked token still worked after {REVOKE_DEADLINE:.0f}s"
        time.sleep(0.2)  # polling the observable outcome, under a deadline
    assert "token" in refused.stderr.lower() and "not valid" in refused.stderr, refused.stderr
    assert name not in platform.berth("token", "list", timeout=30).stdout

    # The platform's own token (config.toml) is untouched.
    assert platform.berth("app", "list", timeout=30).returncode == 0


def test_revoking_an_unknown_token_is_a_clear_error(platform: Platform) -> None:
    result = platform.berth("token", "revoke", f"never-{uuid.uuid4().hex[:8]}", timeout=30)
    assert result.returncode != 0
    assert "no token named" in result.stderr and "berth token list" in result.stderr, result.stderr


def test_the_bootstrap_token_cannot_be_revoked(platform: Platform) -> None:
    listed = json.loads(platform.berth("token", "list", "--json", timeout=30).stdout)
    bootstrap = [row["name"] for row in listed if row["name"].startswith("bootstrap")]
    assert bootstrap, listed
    result = platform.berth("token", "revoke", bootstrap[0], timeout=30)
    assert result.returncode != 0 and "bootstrap token" in result.stderr, result.stderr
    assert platform.berth("app", "list", timeout=30).returncode == 0
