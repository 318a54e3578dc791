"""Window state is mua's: kept in mua's config directory (MUA_HOME moves it), shown by
About, and a saved geometry is restored only when it fits the screen."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from pathlib import Path

import pytest
from PySide6.QtCore import QRect
from PySide6.QtWidgets import QApplication, QWidget

from mua.gui.window_settings import DEFAULT_SIZE, app_settings
from mua.store import paths


def saved_geometry(rect: QRect) -> bytes:
    """What QWidget.saveGeometry writes for a window with that geometry."""
    widget = QWidget()
    widget.setGeometry(rect)
    data = bytes(widget.saveGeometry().data())
    widget.deleteLater()
    return data


def test_window_state_is_kept_in_mua_home_and_about_says_where(
    qtbot, open_main_window, tmp_path: Path
) -> None:
    state = paths.window_state_file()
    assert state.is_relative_to(tmp_path)  # MUA_HOME: the test's own directory
    window = open_main_window()
    window.act_below.trigger()
    window.close()
    assert state.is_file()
    assert app_settings().value("window/geometry") is not None
    window = open_main_window()
    window.act_about.trigger()
    qtbot.waitUntil(window.about_box.isVisible)
    assert str(state) in window.about_box.text()
    window.about_box.close()


def test_a_geometry_that_fits_the_screen_comes_back(qtbot, open_main_window) -> None:
    area = QApplication.primaryScreen().availableGeometry()
    wanted = QRect(area.x() + 10, area.y() + 40, area.width() - 20, area.height() - 80)
    qsettings = app_settings()
    qsettings.setValue("window/geometry", saved_geometry(wanted))
    qsettings.sync()
    window = open_main_window()
    # (Qt takes its guess at the window frame off the saved size: a few pixels)
    assert abs(window.width() - wanted.width()) <= 4, window.size()
    assert abs(window.height() - wanted.height()) <= 30, window.size()


@pytest.mark.parametrize(
    "saved",
    [QRect(40, 40, 831, 302), QRect(0, 0, 4000, 3000)],
    ids=["too-small-831x302", "larger-than-the-screen"],
)
def test_a_geometry_that_does_not_fit_gives_the_default_centred(
    qtbot, open_main_window, saved: QRect
) -> None:
    qsettings = app_settings()
    qsettings.setValue("window/geometry", saved_geometry(saved))
    qsettings.sync()
    window = open_main_window()
    area = QApplication.primaryScreen().availableGeometry()
    frame = window.frameGeometry()
    assert area.contains(frame), (frame, area)
    assert window.size() == DEFAULT_SIZE.boundedTo(area.size() * 0.9)  # 1280x800 at most
    # centred (give or take the frame the platform adds once the window is shown)
    assert abs(frame.center().x() - area.center().x()) <= 8
    assert abs(frame.center().y() - area.center().y()) <= 8
