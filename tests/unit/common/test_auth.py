"""API tokens: hashing, generation, and reading the bearer token from gRPC metadata."""

import hashlib

import pytest

from services.common.auth import TOKEN_PREFIX, bearer, new_token, token_key


def test_token_key_is_sha256_hex() -> None:
    assert token_key("bt_secret") == hashlib.sha256(b"bt_secret").hexdigest()
    assert len(token_key("x")) == 64
    assert token_key("bt_secret") != "bt_secret"


def test_new_token_has_prefix_and_differs() -> None:
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(t.startswith(TOKEN_PREFIX) and len(t) > len(TOKEN_PREFIX) + 30 for t in tokens)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(scheme: str) -> None:
    assert bearer([("authorization", f"{scheme} bt_abc")]) == "bt_abc"


def test_bearer_among_other_metadata() -> None:
    metadata = (("traceparent", "00-abc"), ("authorization", "Bearer  bt_xyz  "), ("x", "y"))
    assert bearer(metadata) == "bt_xyz"


@pytest.mark.parametrize(
    "metadata",
    [
        None,
        (),
        [("authorization", "Basic dXNlcjpw")],
        [("authorization", "Bearer")],
        [("authorization", b"Bearer bt_bytes")],
        [("x-authorization", "Bearer bt_abc")],
    ],
)
def test_no_bearer_token(metadata: object) -> None:
    assert bearer(metadata) == ""
