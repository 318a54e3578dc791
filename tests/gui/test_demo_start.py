"""Demo mode shows its window first and starts the world after (mua.gui.demo_start): the
window as the app opens it (mua.gui.app's _open_session, _main_window and _show), with the
world's start held back by the test until the window has been seen without it."""

from __future__ import annotations

import threading
from pathlib import Path

from mua.gui import app
from mua.gui.demo_start import demo_world_started
from mua.stack.thread import WorldThread
from tests.gui.conftest import finish

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ALICE, BOB = "alice@a.test", "bob@b.test"


def _account_rows(window) -> list[str]:
    model = window.folders
    return [model.index(row, 0).data() for row in range(model.rowCount())]


def test_the_demo_window_shows_before_its_world_then_its_accounts(qtbot, loop, monkeypatch):
    asked, gate = threading.Event(), threading.Event()
    start = WorldThread.start

    def held_back(self, timeout: float = 30.0):
        asked.set()
        assert gate.wait(60), "the test never let the world start"
        return start(self, timeout)

    monkeypatch.setattr(WorldThread, "start", held_back)
    session, engine = app._open_session()
    window = app._main_window(engine, session)
    try:
        app._show(window, session)
        qtbot.waitExposed(window)
        qtbot.waitUntil(asked.is_set, timeout=30_000)  # asked for after the window painted
        assert window.isVisible() and not session.ready
        assert window.demo_label.text() == "Starting the demo world…"
        assert _account_rows(window) == []  # a first start: no accounts before the world
        assert not any(a.isEnabled() for a in window.scenario_actions)
        assert window.scenario_actions[0].text() == "modern"  # described once the world runs
        ARTIFACTS.mkdir(exist_ok=True)
        window.grab().save(str(ARTIFACTS / "demo_world_starting.png"))

        gate.set()
        qtbot.waitUntil(lambda: session.ready, timeout=60_000)
        qtbot.waitUntil(lambda: _account_rows(window) == [ALICE, BOB], timeout=30_000)
        qtbot.waitUntil(
            lambda: window.folders.folder_index(ALICE, "INBOX").isValid(), timeout=30_000
        )
        qtbot.waitUntil(lambda: window.state_label.text() == f"{ALICE}: online", timeout=30_000)
        inbox = window.folders.folder_index(ALICE, "INBOX")
        assert window.folder_view.currentIndex() == inbox  # alice's Inbox, as before
        assert window.demo_label.text() == "Demo world on this computer"
        assert all(a.isEnabled() for a in window.scenario_actions)
        assert all(" \u2014 " in a.text() for a in window.scenario_actions)
        window.grab().save(str(ARTIFACTS / "demo_world_started.png"))
    finally:
        gate.set()
        welcome = getattr(window, "welcome", None)
        if welcome is not None:
            welcome.close()
        window.close()
        finish(qtbot, window.aclose())
        finish(qtbot, demo_world_started(window), timeout=60_000)  # as the app does
        finish(qtbot, session.aclose())
        window.deleteLater()
