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
        _cut_sign(painter, grade)
        painter.end()
        _ICONS[grade] = QIcon(pixmap)
    return _ICONS[grade]


def _cut_sign(painter: QPainter, grade: Grade) -> None:
    """The grade's sign (theme.GRADE_GLYPHS: check, !, x, a dot for inside one server, ?) cut
    out of the lock's body, so the grade reads without its colour."""
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Clear)
    painter.setPen(QPen(Qt.GlobalColor.black, 1.6, c=Qt.PenCapStyle.RoundCap))
    strokes: dict[Grade, list[list[tuple[float, float]]]] = {  # polylines, in 16 px coordinates
        Grade.GREEN: [[(5, 11), (7, 13), (11, 9)]],
        Grade.AMBER: [[(8, 8.8), (8, 11.2)]],
        Grade.RED: [[(5.5, 9), (10.5, 14)], [(10.5, 9), (5.5, 14)]],
        Grade.UNKNOWN: [[(6.3, 9.6), (7, 8.7), (9, 8.7), (9.7, 9.6), (8, 11), (8, 11.6)]],
    }
    for line in strokes.get(grade, []):
        painter.drawPolyline(QPolygonF([QPointF(x, y) for x, y in line]))
    dots = {
        Grade.AMBER: (8, 13.3, 0.9),
        Grade.INTERNAL: (8, 11, 2.0),
        Grade.UNKNOWN: (8, 13.3, 0.9),
    }
    if grade in dots:
        x, y, r = dots[grade]
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(Qt.GlobalColor.black)
        painter.drawEllipse(QPointF(x, y), r, r)
    painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_SourceOver)


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
