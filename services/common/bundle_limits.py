"""What a code bundle (the zip `berth deploy` sends) may hold, checked where bundles enter the platform.

Anyone with an API token can send any bytes as a bundle, so a zip is a stranger's input: the
scheduler checks it fully before storing it (services/scheduler/api.py), and the agent checks it
again while extracting, never writing past the caps (services/agent/bundles.py).

A bundle is refused when it has more than `max_files` members, more than `max_bytes` once
uncompressed (counted as it decompresses, not as its headers claim), or a member that is not a plain
file or directory inside the bundle: an absolute path, a `..` part, a symlink, a device. The CLI
makes bundles well inside the defaults (berth.cli.loading: 2000 files, 64 MiB of sources).
"""

from __future__ import annotations

import io
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath

from services.common import config

DEFAULT_MAX_BYTES = 128 << 20
DEFAULT_MAX_FILES = 4096
CHUNK = 64 << 10


class BundleRefused(ValueError):
    """The bundle breaks a cap or holds an unsafe member; the message says which."""


@dataclass(frozen=True)
class BundleLimits:
    max_bytes: int = DEFAULT_MAX_BYTES
    max_files: int = DEFAULT_MAX_FILES

    @classmethod
    def from_env(cls) -> BundleLimits:
        """BERTH_BUNDLE_MAX_BYTES and BERTH_BUNDLE_MAX_FILES, else the defaults."""
        return cls(
            max_bytes=config.env_int("BERTH_BUNDLE_MAX_BYTES", DEFAULT_MAX_BYTES),
            max_files=config.env_int("BERTH_BUNDLE_MAX_FILES", DEFAULT_MAX_FILES),
        )


@dataclass(frozen=True)
class Member:
    info: zipfile.ZipInfo
    path: PurePosixPath  # relative, normalized, never empty
    is_dir: bool


def open_bundle(data: bytes) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise BundleRefused(f"the bundle is not a readable zip archive: {exc}") from None


def members(archive: zipfile.ZipFile, limits: BundleLimits) -> list[Member]:
    """The archive's members, checked by their headers alone (count, names, types, claimed sizes)."""
    infos = archive.infolist()
    if len(infos) > limits.max_files:
        raise BundleRefused(f"the bundle has {len(infos)} members, more than the {limits.max_files} allowed")
    claimed = 0
    seen: set[PurePosixPath] = set()
    found = []
    for info in infos:
        member = _member(info)
        if member.path in seen:
            raise BundleRefused(f"bundle member {info.filename!r} appears twice")
        seen.add(member.path)
        claimed += info.file_size
        if claimed > limits.max_bytes:
            raise BundleRefused(_too_big(limits))
        found.append(member)
    return found


def _member(info: zipfile.ZipInfo) -> Member:
    name = info.filename
    path = PurePosixPath(name)
    if not name or "\\" in name or "\0" in name or path.is_absolute() or ".." in path.parts:
        raise BundleRefused(f"bundle member {name!r} is not a relative path inside the bundle")
    if path == PurePosixPath("."):
        raise BundleRefused(f"bundle member {name!r} has no name")
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise BundleRefused(f"bundle member {name!r} is a symlink")
    # Zips made off Unix carry no file type (0): a plain file, or a directory by its trailing slash.
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise BundleRefused(f"bundle member {name!r} is not a plain file or directory")
    return Member(info=info, path=path, is_dir=info.is_dir())


class Budget:
    """Uncompressed bytes left to read across a whole bundle."""

    def __init__(self, limits: BundleLimits) -> None:
        self._limits = limits
        self.left = limits.max_bytes

    def take(self, size: int, name: str) -> None:
        self.left -= size
        if self.left < 0:
            raise BundleRefused(f"at member {name!r}, {_too_big(self._limits)}")


def chunks(archive: zipfile.ZipFile, member: Member, budget: Budget) -> Iterator[bytes]:
    """The member's content, decompressed a chunk at a time; BundleRefused as soon as the bundle
    passes its byte budget (whatever the headers claim) or the member fails to decompress."""
    if member.is_dir:
        return
    name = member.info.filename
    try:
        with archive.open(member.info) as source:
            while chunk := source.read(CHUNK):
                budget.take(len(chunk), name)
                yield chunk
    except BundleRefused:
        raise
    except Exception as exc:  # noqa: BLE001 - bad CRC, zlib/lzma errors, encryption: all the sender's
        raise BundleRefused(f"bundle member {name!r} is unreadable: {type(exc).__name__}: {exc}") from None


def check(data: bytes, limits: BundleLimits) -> None:
    """Refuses `data` unless it is a bundle within `limits`, decompressing every member to count
    what it really holds (memory stays at one chunk)."""
    with open_bundle(data) as archive:
        budget = Budget(limits)
        for member in members(archive, limits):
            for _ in chunks(archive, member, budget):
                pass


def _too_big(limits: BundleLimits) -> str:
    mib = limits.max_bytes / (1 << 20)
    return f"the bundle holds more than {limits.max_bytes} bytes uncompressed ({mib:g} MiB)"
