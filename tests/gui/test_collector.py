"""Cyclic garbage holding Qt objects is collected in the GUI thread (mua.gui.collector)."""

from __future__ import annotations

import gc
import threading
import weakref

from PySide6.QtCore import QObject

from mua.gui.collector import GuiThreadCollector


class _Cycle:
    def __init__(self) -> None:
        self.me = self
        self.qobject = QObject()


def _collected_in(start_collector: bool, qtbot) -> list[str]:
    """Make a cycle holding a QObject, let a worker thread allocate (and keep) enough to
    cross the young generation's threshold, and return the name of the thread that freed
    the cycle."""
    freed_by: list[str] = []
    kept: list[list] = []
    gc.collect()
    collector = GuiThreadCollector(interval_ms=10)
    if start_collector:
        collector.start()
    else:
        gc.enable()
    try:
        cycle = _Cycle()
        weakref.finalize(cycle, lambda: freed_by.append(threading.current_thread().name))
        del cycle

        def allocate() -> None:
            kept.extend([] for _ in range(20 * gc.get_threshold()[0]))

        worker = threading.Thread(target=allocate, name="worker")
        worker.start()
        worker.join()
        qtbot.waitUntil(lambda: bool(freed_by), timeout=5000)
    finally:
        collector.stop()
        gc.disable()  # as the conftest's collector left it
    return freed_by


def test_without_it_a_worker_thread_frees_qt_objects(qtbot) -> None:
    """The bug it prevents: automatic collection runs in the allocating thread."""
    assert _collected_in(False, qtbot) == ["worker"]


def test_with_it_the_gui_thread_frees_them(qtbot) -> None:
    assert _collected_in(True, qtbot) == ["MainThread"]
    assert gc.isenabled() is False  # the conftest's collector runs for every GUI test
