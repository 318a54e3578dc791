"""One asyncio-on-Qt loop fixture for every GUI test."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest
import qasync
from PySide6.QtCore import QTimer


@pytest.fixture
def loop(qapp, qtbot) -> Iterator[qasync.QEventLoop]:
    """asyncio on Qt's loop, running for the whole test: qtbot.waitUntil spins Qt, and with
    it asyncio (already_running: the loop counts as running while Qt processes events).

    Teardown ends what is left, then shuts the loop's executor down before closing it: a
    worker thread left over from a closed loop later posts its result into a dead loop and
    crashes the process."""
    event_loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(event_loop)
    yield event_loop
    # What the test left running (a posture lookup of a closed compose window, say) is
    # cancelled and given a few turns of the loop: a cancelled DNS query's UDP transport
    # closes only on the turn after, and a loop closed before that leaks its socket.
    pending = [t for t in asyncio.all_tasks(event_loop) if not t.done()]
    for leftover in pending:
        leftover.cancel()
    qtbot.waitUntil(lambda: all(t.done() for t in pending), timeout=10_000)
    qtbot.wait(20)
    task = asyncio.ensure_future(event_loop.shutdown_default_executor())
    qtbot.waitUntil(task.done, timeout=30_000)
    event_loop.stop()  # also asks Qt to quit, which Qt keeps pending while no exec() runs:
    QTimer.singleShot(0, qapp.quit)  # let one exec() consume it, else every later
    qapp.exec()  # QEventLoop.exec() (qtbot.wait, waitSignal) would return at once
    asyncio.events._set_running_loop(None)
    event_loop.close()
    asyncio.set_event_loop(None)


@pytest.fixture(autouse=True)
def _collect_in_gui_thread(qapp) -> Iterator[None]:
    """As the app does (mua.gui.collector): cyclic garbage, Qt objects among it, is only
    collected in the GUI thread, never by a worker thread that happens to allocate."""
    from mua.gui.collector import GuiThreadCollector

    collector = GuiThreadCollector().start()
    yield
    collector.stop()
