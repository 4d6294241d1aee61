"""Code bundles: fetched once per bundle id from the JetStream object store, extracted read-mostly
and shared by every container of that app version."""

from __future__ import annotations

import asyncio
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from nats.js.object_store import ObjectStore

from services.common import ids


class BundleCache:
    def __init__(self, store: ObjectStore, root: Path) -> None:
        self._store = store
        self._root = root
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
                with zipfile.ZipFile(io.BytesIO(data)) as archive:
                    _safe_extract(archive, staging)
                os.replace(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        return target


def _safe_extract(archive: zipfile.ZipFile, dest: Path) -> None:
    root = dest.resolve()
    for member in archive.infolist():
        path = (dest / member.filename).resolve()
        if root not in path.parents and path != root:
            raise ValueError(f"bundle member {member.filename!r} escapes the bundle")
    archive.extractall(dest)
