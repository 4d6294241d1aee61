"""A JetStream KeyValue stand-in kept in a dict, with revisions so conditional updates behave."""

from __future__ import annotations

from dataclasses import dataclass

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
