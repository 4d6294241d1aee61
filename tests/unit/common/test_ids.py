"""The exact formats of ids from the bus: what producers make passes, anything else is refused."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

import pytest

from services.builder import docker_build
from services.common import ids, subjects

SHA = hashlib.sha256(b"bundle").hexdigest()

# Values no id may ever be: traversal, absolute paths, empties, look-alikes, wildcards.
HOSTILE = [
    "",
    "../x",
    "../../escape",
    "/etc",
    "/tmp/abs",
    ".",
    "..",
    "a.b",
    "*",
    ">",
    "c0123456789ab\n",
    "c0123456789ab\x00",
    "ｃ0123456789ab",  # fullwidth c
    "c٠١٢٣٤٥٦٧٨٩ab",  # Arabic-Indic digits match \d, never [0-9]
    "c" + "0" * 5000,
    "foreign/image:tag",
    "alpine:latest",
]

VALIDATORS: list[Callable[[str], str]] = [
    ids.container_id,
    ids.bundle_id,
    ids.image_id,
    ids.docker_image_tag,
    ids.app_key,
    ids.edge_reply_subject,
]


@pytest.mark.parametrize("validator", VALIDATORS, ids=lambda v: v.__name__)
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_values_are_refused_by_every_validator(validator: Callable[[str], str], value: str) -> None:
    with pytest.raises(ids.InvalidId):
        validator(value)


def test_what_the_producers_make_is_accepted() -> None:
    # The scheduler's container ids (assignment.py) and bundle ids (api.py).
    assert ids.container_id(f"c{uuid.uuid4().hex[:12]}")
    assert ids.bundle_id(SHA) == SHA
    assert ids.image_id(SHA) == SHA
    # The builder's tags and the edge's reply subjects.
    assert ids.docker_image_tag(docker_build.image_tag(SHA)) == f"berth-img:{SHA[:32]}"
    assert ids.app_key(subjects.app_key("hello-world", ephemeral=False)) == "live.hello-world"
    assert ids.app_key(subjects.app_key("x" * 64, ephemeral=True))
    assert ids.edge_reply_subject(subjects.edge_response("edge-1a2b3c4d", 17))
    assert ids.edge_reply_subject(subjects.edge_response("Edge_Host:1", 0))


@pytest.mark.parametrize(
    "value",
    [
        "C0123456789AB",  # uppercase hex is not what uuid4().hex makes
        "c0123456789a",  # too short
        "c0123456789abc",  # too long
        "x0123456789ab",
        "c0123456789ag",
    ],
)
def test_container_ids_must_be_exact(value: str) -> None:
    with pytest.raises(ids.InvalidId, match="container id"):
        ids.container_id(value)


def test_sha256_ids_must_be_exact() -> None:
    for value in (SHA.upper(), SHA[:63], SHA + "0", f"../{SHA[3:]}"):
        with pytest.raises(ids.InvalidId):
            ids.bundle_id(value)


@pytest.mark.parametrize(
    "value",
    [
        "alpine",
        "alpine:latest",
        "evil.io/x:latest",
        f"evil.io/berth-img:{SHA[:32]}",
        f"berth-img:{SHA}",
        f"berth-runtime:{SHA[:32]}",
        f"berth-img:{SHA[:32]}@sha256:{SHA}",
        f"berth-img:{SHA[:32].upper()}",
    ],
)
def test_foreign_images_are_refused(value: str) -> None:
    with pytest.raises(ids.InvalidId, match="Berth-built image"):
        ids.docker_image_tag(value)


@pytest.mark.parametrize(
    "value",
    [
        "live.",
        "prod.app",
        "live.App",
        "live.a.b",
        "live.-a",
        "live.a-",
        "live.*",
        "live.>",
        "live." + "a" * 65,
    ],
)
def test_app_keys_are_one_subject_token_after_the_prefix(value: str) -> None:
    with pytest.raises(ids.InvalidId, match="app key"):
        ids.app_key(value)


@pytest.mark.parametrize(
    "value",
    [
        "berth.resp.e.1.2",
        "berth.resp.*.1",
        "berth.resp.>",
        "berth.resp.e.x",
        "berth.agent.a.boot",
        "berth.resp.e .1",
        "berth.resp.é.1",
        "_INBOX.abc",
    ],
)
def test_reply_subjects_are_edge_response_subjects(value: str) -> None:
    with pytest.raises(ids.InvalidId, match="reply subject"):
        ids.edge_reply_subject(value)


def test_absolute_paths_are_normalized_and_plain() -> None:
    assert ids.absolute_path("/usr/bin/python3", "python") == "/usr/bin/python3"
    for bad in (
        "",
        "usr/bin",
        "/a/../b",
        "/a/./b",
        "/a/",
        "//a",
        "/a//b",
        "/a\x00",
        "/a\nb",
        "/" + "a" * 5000,
    ):
        with pytest.raises(ids.InvalidId, match="absolute"):
            ids.absolute_path(bad, "python")


def test_relative_paths_stay_inside() -> None:
    assert ids.relative_path("app.py", "entry") == "app.py"
    assert ids.relative_path("pkg/main.py", "entry") == "pkg/main.py"
    for bad in ("", ".", "..", "../x", "a/../../x", "/etc/passwd", "./a", "a//b", "a\x00", "a" * 300):
        with pytest.raises(ids.InvalidId, match="relative"):
            ids.relative_path(bad, "entry")


def test_the_error_names_field_and_value_and_clips_long_values() -> None:
    with pytest.raises(ids.InvalidId) as caught:
        ids.container_id("../../escape")
    assert caught.value.field == "container id"
    assert caught.value.value == "../../escape"
    assert str(caught.value).startswith("invalid container id '../../escape': expected")
    assert isinstance(caught.value, ValueError)
    with pytest.raises(ids.InvalidId) as long:
        ids.bundle_id("a" * 10_000)
    assert len(str(long.value)) < 200
