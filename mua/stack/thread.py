"""The world in a thread of its own, with its own asyncio loop (as aiosmtpd's Controller
runs a server): the GUI starts it, waits for readiness, and stops it, without sharing its
event loop with the world's servers."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from pathlib import Path
from typing import Any, TypeVar

from mua.stack.world import World, WorldOptions

T = TypeVar("T")


class WorldThread:
    def __init__(self, directory: Path, options: WorldOptions | None = None) -> None:
        self.world = World(directory, options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready: Future[None] = Future()
        self._stopped = threading.Event()

    def start(self, timeout: float = 30.0) -> dict[str, Any]:
        """Start the world and wait until every server listens; its settings."""
        self._thread = threading.Thread(target=self._run, name="mua-world", daemon=True)
        self._thread.start()
        self._ready.result(timeout)  # re-raises what went wrong in the thread
        return self.world.settings()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self.world.start())
        except BaseException as exc:
            self._ready.set_exception(exc)
            loop.close()
            return
        self._ready.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.world.stop())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            self._stopped.set()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the world's loop from another thread and wait for it."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        if self._loop is None or self._thread is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop = None

    def __enter__(self) -> WorldThread:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
