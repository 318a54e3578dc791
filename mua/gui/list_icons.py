"""The message list's small painted icons: the padlock in a grade's colour, the unread dot
and the flag star (drawn once, kept)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPen, QPixmap, QPolygonF

from mua.core.legs import Grade
from mua.gui.theme import grade_colour

_ICONS: dict[object, QIcon] = {}


def lock_icon(grade: Grade) -> QIcon:
    """A small padlock in the grade's colour (grey when unknown)."""
    if grade not in _ICONS:
        pixmap = QPixmap(16, 16)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        colour = grade_colour(grade)
        painter.setPen(QPen(colour, 1.8))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawArc(4, 1, 8, 10, 0, 180 * 16)
        painter.drawLine(QPointF(4, 6), QPointF(4, 8))
        painter.drawLine(QPointF(12, 6), QPointF(12, 8))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawRoundedRect(2, 7, 12, 8, 2, 2)
        painter.end()
        _ICONS[grade] = QIcon(pixmap)
    return _ICONS[grade]


def _star(painter: QPainter, x: float, y: float) -> None:
    painter.setBrush(QColor("#f0a30a"))
    star = QPolygonF()
    for i in range(10):
        radius = 6.5 if i % 2 == 0 else 2.8
        angle = math.radians(-90 + i * 36)
        star.append(QPointF(x + radius * math.cos(angle), y + radius * math.sin(angle)))
    painter.drawPolygon(star)


def flags_icon(unread: bool, flagged: bool) -> QIcon:
    """A blue dot for unread, an orange star for flagged, side by side."""
    key = ("flags", unread, flagged)
    if key not in _ICONS:
        pixmap = QPixmap(30, 16)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        if unread:
            painter.setBrush(QColor("#2f7de1"))
            painter.drawEllipse(QPointF(6, 8), 4, 4)
        if flagged:
            _star(painter, 21, 8.5)
        painter.end()
        _ICONS[key] = QIcon(pixmap)
    return _ICONS[key]
