"""The Journey tab of the main window: built on first show, widened to show the whole
journey beside the list, and the background work that gives unread messages their badges.
A mixin of MainWindow (mua/gui/main_window.py), split out to keep one idea a file."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from mua.core.i18n import _
from mua.gui.window_parts import WindowParts

if TYPE_CHECKING:
    from mua.core.legs import Trace
    from mua.gui.hop_panel import HopPanel

log = logging.getLogger(__name__)

TRACE_BATCH = 50  # messages whose headers one background fetch asks for
MIN_LIST_WIDTH = 420  # px: sender, subject and date stay readable beside the journey
NARROW_LIST_WIDTH = 240  # px: in a narrow window, the journey would wrap onto 3+ rows


class JourneyTab(QWidget):
    """The Journey tab, built the first time it is shown: the hop panel (and QtSvg) cost
    ~30 ms of start-up that a user who never opens the tab should not pay."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._panel: HopPanel | None = None
        self._trace: Trace | None = None

    def ensure(self):
        if self._panel is None:
            from mua.gui.hop_panel import HopPanel

            self._panel = HopPanel(self)
            self._layout.addWidget(self._panel)
            p = self._panel  # built last: Tab would reach it after the search field
            parent = self.parentWidget()
            tabs = parent.parentWidget() if parent else None
            if isinstance(tabs, QTabWidget):  # right after the tab bar, as the Message page
                bar = tabs.tabBar()
                chain = (bar, p.diagram, p.why_button, p.png_button, p.svg_button, p.details)
                for n in range(1, len(chain)):
                    QWidget.setTabOrder(chain[n - 1], chain[n])
            self._panel.set_trace(self._trace)
        return self._panel

    def set_trace(self, trace) -> None:
        self._trace = trace
        if self._panel is not None:
            self._panel.set_trace(trace)

    def trace(self):
        return self._trace


class JourneyView(WindowParts):
    def _fit_journey(self) -> None:
        """With the Journey tab shown beside the list, widen it to the whole diagram (the
        list keeps a useful width); narrower, the diagram wraps onto more rows, and when
        that would take three rows or more the list gives up more of its width."""
        if self.tabs.currentWidget() is not self.hop_panel:
            if self._widened is not None:
                self.content.setSizes(self._widened)  # back to the user's own split
            self._widened = None
            return
        panel = self.hop_panel.ensure()
        if self.content.orientation() != Qt.Orientation.Horizontal:
            return
        margins = self.tabs.width() - panel.diagram_scroll.viewport().width()
        wanted = panel.diagram.sizeHint().width() + margins
        sizes = self.content.sizes()
        width = min(wanted, sum(sizes) - MIN_LIST_WIDTH)
        if panel.diagram.rows_at(width - margins) > 2:  # a narrow window: the list gives more
            width = max(width, min(wanted, sum(sizes) - NARROW_LIST_WIDTH))
        if width > sizes[1]:
            if self._widened is None:
                self._widened = sizes
            self.content.setSizes([sum(sizes) - width, width])

    def _journey(self, key: tuple[str, str, int], raw: bytes, message=None):
        """The journey of the message `key` (whole or just its header section), kept in the
        cache for its badge; None when it cannot be worked out (logged)."""
        if self.trace_provider is None:
            return None
        try:
            trace = self.trace_provider(*key, raw)
        except Exception:
            log.exception("the journey of message %s could not be worked out", key[2])
            return None
        if trace is not None and message is not None and message.message_id:
            self.engine.cache.store_trace(key[0], message.message_id, trace)
            self.messages.forget_grade(message.message_id)
        return trace

    def _trace_shown(self) -> None:
        """Badges for messages not read yet: fetch the headers of those the list shows (a
        batch at a time, in the background) and work out their journeys as when opened."""
        if self.trace_provider is None or self._tracing or self._closing:
            return
        batch = self.messages.take_untraced(TRACE_BATCH)
        if not batch:
            return
        account, folder = batch[0].account, batch[0].folder
        self._tracing = True

        def done(headers: dict[int, bytes]) -> None:
            self._tracing = False
            for message in batch:
                raw = headers.get(message.uid)
                if raw is not None and self.trace_provider is not None:
                    self._journey((account, folder, message.uid), raw, message)
            self._trace_timer.start()  # the next batch, if the list asks for more

        def failed(_message: str) -> None:
            self._tracing = False  # those messages keep a grey badge until opened

        uids = [m.uid for m in batch]
        self.bridge.run(
            _("Reading journeys"), self.engine.headers(account, folder, uids), done, failed
        )
