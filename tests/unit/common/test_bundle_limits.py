"""Bundles are a token holder's bytes: the scheduler refuses one over the caps or with an unsafe
member before storing it, and the agent refuses it again while extracting, never writing past the
caps nor outside its directory, whatever the zip's headers claim."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from services.agent.bundles import extract
from services.common.bundle_limits import BundleLimits, BundleRefused, check

LIMITS = BundleLimits(max_bytes=1 << 20, max_files=10)


def make_zip(*members: tuple[str, bytes] | zipfile.ZipInfo, data: bytes = b"") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            if isinstance(member, zipfile.ZipInfo):
                archive.writestr(member, data)
            else:
                archive.writestr(*member)
    return buffer.getvalue()


def special(name: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = mode << 16
    return info


def lie_about_size(data: bytes, size: int) -> bytes:
    """The one member's sizes in both headers set to `size`: a bomb hiding what it holds."""
    patched = bytearray(data)
    struct.pack_into("<I", patched, 22, size)  # local header: uncompressed size
    central = patched.find(b"PK\x01\x02")
    struct.pack_into("<I", patched, central + 24, size)
    return bytes(patched)


def refused(data: bytes, tmp_path: Path, message: str) -> None:
    """Both the scheduler's check and the agent's extraction refuse `data`, naming why."""
    with pytest.raises(BundleRefused, match=message):
        check(data, LIMITS)
    target = tmp_path / "code"
    target.mkdir()
    with pytest.raises(BundleRefused, match=message):
        extract(data, target, LIMITS)
    written = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    assert written <= LIMITS.max_bytes
    assert not any(p.is_symlink() for p in tmp_path.rglob("*"))


def test_a_normal_bundle_is_extracted(tmp_path: Path) -> None:
    data = make_zip(("app.py", b"print('hi')\n"), ("pkg/", b""), ("pkg/mod.py", b"x = 1\n"))
    check(data, LIMITS)
    extract(data, tmp_path, LIMITS)
    assert (tmp_path / "app.py").read_bytes() == b"print('hi')\n"
    assert (tmp_path / "pkg" / "mod.py").read_text() == "x = 1\n"


def test_too_many_members(tmp_path: Path) -> None:
    data = make_zip(*((f"m{i}.py", b"") for i in range(11)))
    refused(data, tmp_path, "has 11 members, more than the 10 allowed")


def test_too_many_bytes_as_claimed(tmp_path: Path) -> None:
    data = make_zip(("a.py", b"0" * (600 << 10)), ("b.py", b"0" * (600 << 10)))
    refused(data, tmp_path, "more than 1048576 bytes uncompressed")


def test_a_bomb_whose_headers_lie_is_stopped_at_the_cap(tmp_path: Path) -> None:
    bomb = lie_about_size(make_zip(("bomb.py", b"0" * (8 << 20))), 100)
    assert zipfile.ZipFile(io.BytesIO(bomb)).infolist()[0].file_size == 100
    refused(bomb, tmp_path, "bomb.py.*unreadable|more than")


def test_many_members_each_under_the_cap_add_up(tmp_path: Path) -> None:
    data = make_zip(*((f"m{i}.py", b"0" * (200 << 10)) for i in range(6)))
    refused(data, tmp_path, "more than 1048576 bytes uncompressed")


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape.py", "pkg/../../escape.py", "a\\..\\b.py", ""])
def test_paths_outside_the_bundle(tmp_path: Path, name: str) -> None:
    info = zipfile.ZipInfo("placeholder")
    info.filename = name  # zipfile would clean these; an attacker's zip need not be made by it
    refused(make_zip(info, data=b"x"), tmp_path, "not a relative path inside the bundle")
    assert not (tmp_path.parent / "escape.py").exists()


@pytest.mark.parametrize(
    "mode, what",
    [
        (stat.S_IFLNK | 0o777, "is a symlink"),
        (stat.S_IFCHR | 0o666, "not a plain file or directory"),
        (stat.S_IFIFO | 0o666, "not a plain file or directory"),
    ],
)
def test_links_and_devices(tmp_path: Path, mode: int, what: str) -> None:
    refused(make_zip(special("link.py", mode), data=b"/etc/passwd"), tmp_path, what)


def test_a_member_twice(tmp_path: Path) -> None:
    info = zipfile.ZipInfo("app.py")
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = make_zip(("app.py", b"1"), info, data=b"2")
    refused(data, tmp_path, "appears twice")


def test_not_a_zip(tmp_path: Path) -> None:
    refused(b"PK\x03\x04 not really", tmp_path, "not a readable zip archive")


def test_limits_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTH_BUNDLE_MAX_BYTES", "2048")
    monkeypatch.setenv("BERTH_BUNDLE_MAX_FILES", "3")
    assert BundleLimits.from_env() == BundleLimits(max_bytes=2048, max_files=3)
    monkeypatch.delenv("BERTH_BUNDLE_MAX_BYTES")
    assert BundleLimits.from_env().max_bytes == 128 << 20
