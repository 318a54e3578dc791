"""One asyncio-on-Qt loop fixture for every GUI test, and the user's own files kept out of
reach: the whole session runs with HOME, the XDG directories and MUA_HOME in a temporary
directory (set at import, before Qt or platformdirs first work out a path: QSettings keeps
its default paths for the life of the process), each test gets its own MUA_HOME, and a test
fails if anything appears in mua's config directory under the session's HOME (something
that ignored MUA_HOME) or changes under the real user's ~/.config/mua."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import platformdirs
import pytest
import qasync
from PySide6.QtCore import QSettings, QTimer

if "MUA_TESTS_SESSION_HOME" in os.environ:  # this module imported a second time
    _REAL_CONFIG = Path(os.environ["MUA_TESTS_REAL_CONFIG"])
    _SESSION_HOME = Path(os.environ["MUA_TESTS_SESSION_HOME"])
else:
    _REAL_CONFIG = Path(platformdirs.user_config_dir("mua", appauthor=False))  # before
    _SESSION_HOME = Path(tempfile.mkdtemp(prefix="mua-gui-tests-home-"))
    atexit.register(shutil.rmtree, _SESSION_HOME, ignore_errors=True)
    os.environ["MUA_TESTS_REAL_CONFIG"] = str(_REAL_CONFIG)
    os.environ["MUA_TESTS_SESSION_HOME"] = str(_SESSION_HOME)
os.environ["HOME"] = str(_SESSION_HOME)
for _name in ("CONFIG", "DATA", "CACHE", "STATE"):
    os.environ[f"XDG_{_name}_HOME"] = str(_SESSION_HOME / _name.lower())
os.environ["MUA_HOME"] = str(_SESSION_HOME / "mua-home")
for _scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
    for _format in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        QSettings.setPath(_format, _scope, str(_SESSION_HOME / "qsettings"))


def _snapshot(directory: Path) -> dict[str, tuple[int, int]]:
    """Every file under `directory`: (size, mtime in ns); nothing is read or written."""
    if not directory.is_dir():
        return {}
    return {
        str(path): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in directory.rglob("*")
        if path.is_file()
    }


@pytest.fixture(autouse=True)
def _isolated_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """MUA_HOME in the test's directory; fail if the test wrote where a user's files are."""
    monkeypatch.setenv("MUA_HOME", str(tmp_path / "home"))
    session_config = Path(platformdirs.user_config_dir("mua", appauthor=False))
    assert session_config.is_relative_to(_SESSION_HOME)
    real_before = _snapshot(_REAL_CONFIG)
    yield tmp_path / "home"
    stray = sorted(_snapshot(session_config)) + sorted(_snapshot(_SESSION_HOME / "qsettings"))
    assert not stray, f"written outside MUA_HOME (the user's config in real use): {stray}"
    assert _snapshot(_REAL_CONFIG) == real_before, f"the user's {_REAL_CONFIG} was changed"


@pytest.fixture(scope="session", autouse=True)
def _app_style(qapp) -> None:
    """The application's style as the app installs it (mua.gui.app_style)."""
    from mua.gui.app_style import install_app_style

    install_app_style(qapp)


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


def finish(qtbot, coro, timeout: int = 20_000):
    """Run a coroutine to its end on the test's loop (spinning Qt meanwhile)."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


@pytest.fixture
def demo_session(qtbot, tmp_path: Path, loop):
    """The app's demo mode (alice and bob on a demo world with test-speed timers)."""
    from mua.gui.demo_profile import DemoSession
    from tests.conftest import fast_options

    demo = DemoSession.start(tmp_path / "demo", options=fast_options())
    yield demo
    finish(qtbot, demo.aclose())


@pytest.fixture
def open_main_window(qtbot, demo_session, loop) -> Iterator[Callable[[], object]]:
    """Open main windows as the app does, over the demo session (shown; closed and shut
    down afterwards)."""
    from mua.gui.bridge import Bridge
    from mua.gui.main_window import MainWindow

    opened: list[MainWindow] = []

    def open_one() -> MainWindow:
        main = MainWindow(demo_session.engine, Bridge(), demo=demo_session)
        main.idle_slice = 1.0
        main.show()
        qtbot.waitExposed(main)
        opened.append(main)
        return main

    yield open_one
    for main in opened:
        main.close()
        finish(qtbot, main.aclose())
        main.deleteLater()
