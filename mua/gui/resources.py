"""The files in `resources/`: the application icon and the toolbar icons, all SVG.

`resources/` sits beside the `mua` package in a source tree and an editable install, and at
the top of a PyInstaller bundle (`sys._MEIPASS`). Toolbar icons are drawn in the palette's
text colour at whatever size and device-pixel ratio Qt asks for, so they stay crisp on a
high-DPI screen and readable in a dark palette; the desktop's icon theme wins when it has
the icon (freedesktop names, as Thunderbird and Evolution use them).
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize, Qt
from PySide6.QtGui import QGuiApplication, QIcon, QIconEngine, QPainter, QPalette, QPixmap


def resources_dir() -> Path | None:
    """Where resources/ is, or None for an install without it."""
    frozen = getattr(sys, "_MEIPASS", None)
    candidates = [Path(frozen) / "resources"] if frozen else []
    candidates.append(Path(__file__).resolve().parents[2] / "resources")
    return next((c for c in candidates if c.is_dir()), None)


def app_icon() -> QIcon | None:
    """The application icon (crisp at any DPI); None when resources/ cannot be found."""
    root = resources_dir()
    svg = root / "mua.svg" if root else None
    return QIcon(str(svg)) if svg and svg.exists() else None


@cache
def _svg_source(name: str) -> str | None:
    root = resources_dir()
    path = root / "icons" / f"{name}.svg" if root else None
    return path.read_text(encoding="utf-8") if path and path.exists() else None


class _TintedSvg(QIconEngine):
    """One of our SVG icons, its `currentColor` drawn in the palette's current text colour
    (dimmed when disabled), rendered at the exact size asked for."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def clone(self) -> QIconEngine:
        return _TintedSvg(self.name)

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        from PySide6.QtSvg import QSvgRenderer  # at the first icon painted, not at start-up

        source = _svg_source(self.name)
        if source is None:
            return
        group = (
            QPalette.ColorGroup.Disabled
            if mode is QIcon.Mode.Disabled
            else QPalette.ColorGroup.Active
        )
        colour = QGuiApplication.palette().color(group, QPalette.ColorRole.WindowText)
        svg = source.replace("currentColor", colour.name())
        QSvgRenderer(QByteArray(svg.encode("utf-8"))).render(painter, rect)

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return pixmap


def icon(name: str, fallback: QIcon | None = None) -> QIcon:
    """The desktop theme's icon called `name`, else ours from resources/icons/, else
    `fallback` (or an empty icon)."""
    if QIcon.hasThemeIcon(name):
        return QIcon.fromTheme(name)
    if _svg_source(name) is not None:
        return QIcon(_TintedSvg(name))
    return fallback if fallback is not None else QIcon()
