"""The desktop app's entry point: Qt + asyncio on one loop (qasync), demo mode, crash handler."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from types import TracebackType

from mua import __version__
from mua.core.i18n import _, error_text

log = logging.getLogger(__name__)


def run(argv: list[str] | None = None) -> int:
    # qasync picks its Qt binding from QT_API, else tries PyQt5, PyQt6, PySide2 first: name
    # ours, so that a QT_API set for another program cannot hand mua the wrong binding.
    os.environ["QT_API"] = "pyside6"
    import qasync
    from PySide6.QtWidgets import QApplication, QMessageBox

    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv)
    assert isinstance(app, QApplication)  # mua makes no other kind
    app.setApplicationName("mua")
    app.setOrganizationName("mua")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("mua")
    _install_language(app)
    from mua.gui.app_style import install_app_style

    install_app_style(app)  # the chosen style, dialog buttons without icons
    from mua.gui.resources import app_icon

    icon = app_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    _install_crash_handler()
    from mua.gui.collector import GuiThreadCollector

    collector = GuiThreadCollector(app).start()
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        session, engine = _open_session()
    except Exception as exc:  # no keyring, a broken config file: say so, don't crash
        log.exception("could not start")
        QMessageBox.critical(None, "mua", error_text(exc))
        return 1
    window = _main_window(engine, session)
    if sys.platform == "darwin":  # Finder hands files over as FileOpen events, not argv
        app.installEventFilter(_file_opener(app))
    closed = asyncio.Event()
    window.closed.connect(closed.set)  # (lastWindowClosed is not emitted under qasync's loop)
    _show(window, session)
    with loop:
        loop.run_until_complete(closed.wait())
        loop.run_until_complete(window.aclose())  # stops IDLE loops before logging out
        if session is not None:
            from mua.gui.demo_start import demo_world_started

            loop.run_until_complete(demo_world_started(window))
            loop.run_until_complete(session.aclose())
        else:
            loop.run_until_complete(engine.aclose())
    collector.stop()
    return 0


def _install_language(app) -> None:
    """mua's and Qt's translations, as Preferences chose (a broken settings file: the system's
    language; the error is shown later, where the settings are loaded)."""
    from mua.gui.language import install_language
    from mua.store.config import ConfigError, SettingsStore

    try:
        choice = SettingsStore().load().language
    except (ConfigError, OSError):
        choice = "system"
    install_language(app, choice)


def _open_session():
    """(demo session or None, engine): demo mode when no account is configured."""
    from mua.store.config import AccountStore

    if not AccountStore().load():
        from mua.gui.demo_profile import DemoSession

        session = DemoSession.prepare()  # its world starts after the window shows
        return session, session.engine
    from mua.client.engine import Engine
    from mua.store.secrets import Secrets

    return None, Engine.open(Secrets())


def _main_window(engine, session):
    from mua.gui.bridge import Bridge
    from mua.gui.journey_source import trace_provider
    from mua.gui.main_window import MainWindow
    from mua.store.config import SettingsStore

    bridge = Bridge()
    store = SettingsStore()
    settings = store.load()
    engine.body_cache_bytes = settings.body_cache_bytes  # a demo's engine is made without them
    window = MainWindow(engine, bridge, settings=settings, demo=session)
    window.settingsChanged.connect(store.save)
    window.trace_provider = trace_provider(engine, session)
    if session is not None:
        from mua.gui.scenarios import install_scenario_menu

        install_scenario_menu(window, bridge)
    return window


def _show(window, session) -> None:
    """Show the window; in demo mode, start the world once it has painted (no waiting for
    the world first: mua.gui.demo_start) and welcome the user."""
    window.show()
    if session is not None:
        from mua.gui.demo_start import start_demo_world

        start_demo_world(window, session)
        _welcome(window)


def _file_opener(app):
    """An event filter for the application: a FileOpen event (macOS Finder, "Open With")
    opens the file in a window of its own (mua.gui.viewer, imported only then)."""
    from pathlib import Path

    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtGui import QFileOpenEvent

    class FileOpener(QObject):
        def __init__(self, parent: QObject | None = None) -> None:
            super().__init__(parent)
            self.windows: list = []

        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.FileOpen and isinstance(event, QFileOpenEvent):
                from mua.gui.viewer import open_file

                window = open_file(Path(event.file()))
                if window is not None:
                    self.windows = [w for w in self.windows if w.isVisible()] + [window]
                return True
            return super().eventFilter(watched, event)

    return FileOpener(app)


def _welcome(window) -> None:
    """The welcome on the first start of the demo only (mua.gui.welcome remembers it in the
    window's settings); Help > Welcome… shows it again."""
    from mua.gui.welcome import show_welcome_once

    show_welcome_once(window)


def _install_crash_handler() -> None:
    """An unexpected error is logged with its traceback and shown as one readable message."""

    def handle(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        log.critical("unexpected error:\n%s", "".join(traceback.format_exception(kind, exc, tb)))
        try:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(
                None,
                "mua",
                _(
                    "Something went wrong: {error}. The details are in mua's log; "
                    "mua keeps running."
                ).format(error=error_text(exc)),
            )
        except Exception:
            pass

    sys.excepthook = handle
