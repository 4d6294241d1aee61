"""A short, bounded memory of API tokens the scheduler found valid, for function calls.

A `.map` over many inputs makes as many calls, each with the same bearer token: asking the scheduler
(berth.sched.token-check) for each would put it on every call's path. A yes is remembered for
`ttl` seconds (10 s: a revoked token stops opening calls within that), keyed by the token's SHA-256
so the cache holds no secret. At most `max_entries` tokens are remembered, the oldest forgotten
first, so clients sending many distinct valid tokens cannot grow it. A no is never remembered: an
invalid token costs a scheduler look-up each time, as it does for /metrics. Pure bookkeeping
around the check function; the clock is passed in.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from services.common import auth

TTL_SECONDS = 10.0
MAX_ENTRIES = 1024


class TokenCache:
    def __init__(
        self,
        check: Callable[[str], Awaitable[bool]],
        *,
        ttl: float = TTL_SECONDS,
        max_entries: int = MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._check = check
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._valid_at: OrderedDict[str, float] = OrderedDict()  # token id -> when found valid

    def __len__(self) -> int:
        return len(self._valid_at)

    async def valid(self, token: str) -> bool:
        # Only what could be a token costs the scheduler a look-up.
        if not token.startswith(auth.TOKEN_PREFIX):
            return False
        key = auth.token_id(token)
        now = self._clock()
        at = self._valid_at.get(key)
        if at is not None and now - at < self._ttl:
            return True
        self._valid_at.pop(key, None)
        if not await self._check(token):
            return False
        self._valid_at[key] = self._clock()
        while len(self._valid_at) > self._max:
            self._valid_at.popitem(last=False)
        return True
