"""Calls made once for everyone who asks together ("single flight"): the DNS lookups of a
queue restarting with thousands of messages to one domain, the MTA-STS policy of a domain
many deliveries want at once. Each key has at most one call under way; callers that ask for
it meanwhile wait for its result (or share its exception). One caller cancelled leaves the
others' wait (the call is shielded); the call is cancelled when nobody waits any more."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)
R = TypeVar("R")


@dataclass
class _Call:
    task: asyncio.Future[Any]
    waiters: int = 0


class SharedCalls(Generic[K]):
    """`await shared.run(key, call)`: `call()`'s result, or that of the same key's call
    already under way. Single-loop: every caller runs on the loop that made the first call."""

    def __init__(self) -> None:
        self._inflight: dict[K, _Call] = {}

    async def run(self, key: K, call: Callable[[], Awaitable[R]]) -> R:
        shared = self._inflight.get(key)
        if shared is None:
            shared = _Call(asyncio.ensure_future(call()))
            self._inflight[key] = shared
            shared.task.add_done_callback(lambda _t: self._inflight.pop(key, None))
            # Retrieved even when every caller was cancelled: no "never retrieved" line.
            shared.task.add_done_callback(lambda t: t.cancelled() or t.exception())
        shared.waiters += 1
        try:
            result: R = await asyncio.shield(shared.task)
            return result
        finally:
            shared.waiters -= 1
            if not shared.waiters and not shared.task.done():
                shared.task.cancel()  # nobody is waiting any more
