"""The log pump reads a container's output in chunks: a line over the cap keeps its first MAX_LINE
bytes and says how many it lost, and the lines after it still arrive (readline() stopped there)."""

from __future__ import annotations

import asyncio

from services.agent.logs import MAX_LINE, lines, marker


async def read_all(*chunks: bytes, limit: int = MAX_LINE) -> list[str]:
    reader = asyncio.StreamReader(limit=1 << 20)  # the process runtime's pipe limit
    for chunk in chunks:
        reader.feed_data(chunk)
    reader.feed_eof()
    return [line async for line in lines(reader, limit=limit)]


async def test_a_2_mib_line_is_truncated_and_the_next_lines_arrive() -> None:
    huge = b"x" * (2 << 20)
    got = await read_all(b"before\n" + huge[:100], huge[100:] + b"\nafter\n", b"last")
    assert got[0] == "before"
    assert got[1] == "x" * MAX_LINE + marker(1 << 20)
    assert got[1].endswith("… [truncated 1048576 bytes]")
    assert got[2:] == ["after", "last"]


async def test_lines_split_across_chunks_are_joined() -> None:
    assert await read_all(b"he", b"llo\nwor", b"ld\n") == ["hello", "world"]
    assert await read_all(b"a\n\nb\n") == ["a", "", "b"]


async def test_a_line_exactly_at_the_cap_is_whole() -> None:
    assert await read_all(b"y" * 16 + b"\n", limit=16) == ["y" * 16]
    assert await read_all(b"y" * 17 + b"\n", limit=16) == ["y" * 16 + marker(1)]


async def test_undecodable_bytes_never_make_the_text_longer_than_the_cap() -> None:
    [line] = await read_all(b"\xff" * 64 + b"\n", limit=32)
    text, _, dropped = line.partition("… [truncated ")
    assert len(text.encode()) <= 32
    assert int(dropped.split()[0]) == 64 - len(text)  # one U+FFFD per byte kept
