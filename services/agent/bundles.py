"""Code bundles: fetched once per bundle id from the JetStream object store, extracted read-mostly
and shared by every container of that app version.

The scheduler checked each bundle before storing it; extraction checks again (services/common/
bundle_limits.py) and writes only plain files and directories inside the target, counting bytes as
they decompress, so a bundle that got into the store some other way still cannot fill the disk or
write outside its directory.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

from nats.js.object_store import ObjectStore

from services.common import bundle_limits, ids
from services.common.bundle_limits import BundleLimits


class BundleCache:
    def __init__(self, store: ObjectStore, root: Path, limits: BundleLimits | None = None) -> None:
        self._store = store
        self._root = root
        self._limits = limits or BundleLimits.from_env()
        self._locks: dict[str, asyncio.Lock] = {}

    async def extracted(self, bundle_id: str) -> Path:
        # The id names a directory here: only the scheduler's sha256 form, never `..` or `/`.
        target = self._root / ids.bundle_id(bundle_id)
        if target.is_dir():
            return target
        lock = self._locks.setdefault(bundle_id, asyncio.Lock())
        async with lock:
            if target.is_dir():
                return target
            result = await self._store.get(bundle_id)
            data = result.data or b""
            self._root.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{bundle_id[:12]}-", dir=self._root))
            try:
                # Up to max_bytes of decompression: off the loop that relays other requests.
                await asyncio.to_thread(extract, data, staging, self._limits)
                try:
                    os.replace(staging, target)
                except OSError:
                    # Agents sharing a home share this cache: another one extracted it first.
                    if not target.is_dir():
                        raise
                    shutil.rmtree(staging, ignore_errors=True)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target


def extract(data: bytes, dest: Path, limits: BundleLimits) -> None:
    """Writes the bundle's files under `dest` (an empty directory); BundleRefused, with whatever
    was written left for the caller to remove, when it breaks the limits or names anything but a
    plain file or directory inside `dest`."""
    with bundle_limits.open_bundle(data) as archive:
        budget = bundle_limits.Budget(limits)
        for member in bundle_limits.members(archive, limits):
            path = dest.joinpath(*member.path.parts)
            if member.is_dir:
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            _refuse_links(dest, path.parent)
            # O_EXCL and O_NOFOLLOW: never through a link, never over a file already written.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o666)
            with os.fdopen(fd, "wb") as out:
                for chunk in bundle_limits.chunks(archive, member, budget):
                    out.write(chunk)


def _refuse_links(root: Path, directory: Path) -> None:
    """Members are checked by name, and only plain files and directories are ever created, so no
    link can exist here; checked anyway, since a write through one would land outside `root`."""
    for parent in (directory, *directory.parents):
        if parent == root:
            return
        if parent.is_symlink():
            raise bundle_limits.BundleRefused(f"bundle path {parent} is a link")
