"""The one bridge between asyncio and Qt.

qasync runs asyncio's loop on Qt's, so coroutines and widgets share the GUI thread; every
blocking call below them already runs in a worker thread (the engine's `asyncio.to_thread`),
so the GUI never waits on a socket. `Bridge.run` starts a coroutine and turns its outcome
into a Qt signal, so widgets connect slots instead of awaiting.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from mua.core.i18n import error_text

log = logging.getLogger(__name__)


class Bridge(QObject):
    # (what, result) / (what, one-sentence error): `what` names the job for the status bar
    finished = Signal(str, object)
    failed = Signal(str, str)
    busy = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()

    def run(
        self,
        what: str,
        coro: Coroutine[Any, Any, Any],
        on_done: Callable[[Any], object] | None = None,
        on_error: Callable[[str], None] | None = None,
    ) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        self.busy.emit(True)

        def done(t: asyncio.Task[Any]) -> None:
            self._tasks.discard(t)
            self.busy.emit(bool(self._tasks))
            if t.cancelled():
                return
            exc = t.exception()
            if exc is not None:
                log.warning("%s failed", what, exc_info=exc)
                message = error_text(exc) or exc.__class__.__name__
                self.failed.emit(what, message)
                if on_error:
                    on_error(message)
                return
            self.finished.emit(what, t.result())
            if on_done:
                on_done(t.result())

        task.add_done_callback(done)
        return task

    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self) -> None:
        """Wait for every job (tests, and a clean quit)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
