"""A JetStream KeyValue stand-in kept in a dict, with revisions so conditional updates behave."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError, NoKeysError


@dataclass
class Entry:
    key: str
    value: bytes
    revision: int


class MemoryKV:
    def __init__(self) -> None:
        self.data: dict[str, Entry] = {}
        self.revision = 0
        self.gets = 0
        self.writes = 0
        # What services.common.bus.kv_keys reads: the bucket's stream and its subjects' state.
        self._pre = "$KV.memory."
        self._stream = "KV_memory"
        self._js = self

    def _next(self) -> int:
        self.revision += 1
        self.writes += 1
        return self.revision

    async def get(self, key: str) -> Entry:
        self.gets += 1
        if key not in self.data:
            raise KeyNotFoundError
        return self.data[key]

    async def put(self, key: str, value: bytes) -> int:
        self.data[key] = Entry(key, value, self._next())
        return self.revision

    async def update(self, key: str, value: bytes, last: int | None = None) -> int:
        current = self.data.get(key)
        # Like JetStream: a key deleted since `last` has a newer (delete) revision, so it fails.
        if current is None or current.revision != last:
            raise KeyWrongLastSequenceError
        return await self.put(key, value)

    async def delete(self, key: str) -> bool:
        self.data.pop(key, None)
        self._next()
        return True

    async def keys(self) -> list[str]:
        if not self.data:
            raise NoKeysError
        return list(self.data)

    async def stream_info(self, name: str, subjects_filter: str | None = None) -> SimpleNamespace:
        assert name == self._stream and subjects_filter == f"{self._pre}>"
        subjects = {f"{self._pre}{key}": 1 for key in self.data}
        return SimpleNamespace(state=SimpleNamespace(subjects=subjects))
