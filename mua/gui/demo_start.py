"""Demo mode's world, started after the main window has shown itself.

Starting the world (certificates, DNS zones, a dozen listeners) took most of the demo's
first paint (bench/startup.py). The app now shows the window over the demo's profile
(`DemoSession.prepare`: the cache and last run's accounts), says "Starting the demo world…"
in the status bar, and starts the world in a worker thread once the window has painted;
when it listens, the accounts point at it and the window syncs them. Until then nothing
syncs and the Demo menu's scenarios wait.
"""

from __future__ import annotations

import asyncio
import logging

from PySide6.QtCore import QEvent, QObject, QTimer

from mua.core.i18n import _, error_text

log = logging.getLogger(__name__)

# Should no Paint event come (a window shown minimised), the world starts after this anyway.
START_WITHOUT_PAINT_MS = 1000


class _AfterFirstPaint(QObject):
    """Calls `then` once: after the window's first Paint event has been handled."""

    def __init__(self, window, then) -> None:
        super().__init__(window)
        self._then = then
        self._done = False
        window.installEventFilter(self)
        QTimer.singleShot(START_WITHOUT_PAINT_MS, self, self._fire)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint and not self._done:
            QTimer.singleShot(0, self, self._fire)  # after this paint, not before it
        return False

    def _fire(self) -> None:
        if not self._done:
            self._done = True
            watched = self.parent()
            if watched is not None:
                watched.removeEventFilter(self)
            self._then()


def start_demo_world(window, session, on_done=None) -> None:
    """Show that the world is starting, start it once `window` has painted, then sync.

    `on_done(error)` (optional) is called at the end, with None or the error's text."""
    set_starting(window, True)

    async def run() -> None:
        try:
            await asyncio.to_thread(session.start_world)
        except Exception as exc:
            log.exception("the demo world did not start")
            text = _("The demo world did not start: {error}").format(error=error_text(exc))
            _demo_label(window, text)
            window.statusBar().showMessage(text)
            if on_done is not None:
                on_done(text)
            return
        set_starting(window, False)
        if getattr(window, "scenario_actions", None):
            from mua.gui.scenarios import describe_scenarios

            describe_scenarios(window)  # the world's modules are imported by now
        if not window._closing:
            window.refresh_folders()
            window._start()  # the first sync of every account, then IDLE
        if on_done is not None:
            on_done(None)

    def begin() -> None:
        if not window._closing:  # closed before it painted: no world to start
            window.demo_world_task = asyncio.ensure_future(run())

    window.demo_world_task = None  # the start's task, once the window has painted
    window._demo_start = _AfterFirstPaint(window, begin)


async def demo_world_started(window) -> None:
    """Until the world's start, if under way, has ended (the app awaits this before stopping
    the world: a world still starting would outlive the app's loop)."""
    task = getattr(window, "demo_world_task", None)
    if task is not None:
        await asyncio.wait([task])


def set_starting(window, starting: bool) -> None:
    """The status bar's demo label, and the Demo menu's scenarios (off while starting)."""
    _demo_label(
        window, _("Starting the demo world…") if starting else _("Demo world on this computer")
    )
    for action in getattr(window, "scenario_actions", []):
        action.setEnabled(not starting)


def _demo_label(window, text: str) -> None:
    label = getattr(window, "demo_label", None)
    if label is not None:
        label.setText(text)
