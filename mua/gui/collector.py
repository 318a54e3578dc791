"""Python's cyclic garbage collector, run in the GUI thread only.

Left automatic, the collector runs in whichever thread happens to allocate when a
generation's threshold is crossed: often a worker (the engine's `asyncio.to_thread`, the
demo world's thread). A Qt object that sits in a reference cycle is then destroyed in that
worker, while it belongs to the GUI thread; Qt does not support that (QObject's destructor
must run in the object's thread), and the process later crashes inside Qt's event
processing. Seen here: a segfault in QTimerInfoList::activateTimers ->
sendThroughObjectEventFilters when GUI test modules shared a process. So automatic
collection is switched off and the same thresholds are checked from a Qt timer instead.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """While it runs, cyclic garbage is collected in the thread that created it, on a
    timer, by generation as Python's own thresholds say; `stop()` gives collection back."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 500) -> None:
        super().__init__(parent)
        self._thresholds = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.check)

    def start(self) -> GuiThreadCollector:
        gc.disable()
        self._timer.start()
        return self

    def stop(self) -> None:
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()

    def check(self) -> int:
        """Collect the oldest generation whose count is over its threshold (as CPython's
        automatic collection decides); returns how many objects were unreachable."""
        counts = gc.get_count()
        generation = -1
        for gen in range(3):
            if counts[gen] > self._thresholds[gen]:
                generation = gen
        return gc.collect(generation) if generation >= 0 else 0
