"""Colours and labels shared by every view: one meaning, one colour."""

from __future__ import annotations

from PySide6.QtGui import QColor

from mua.core.legs import Grade, Source

GRADE_COLOURS = {
    Grade.GREEN: QColor("#1e9e4a"),
    Grade.AMBER: QColor("#e0a100"),
    Grade.RED: QColor("#d62d20"),
    Grade.INTERNAL: QColor("#3b7dd8"),
    Grade.UNKNOWN: QColor("#8a8a8a"),
}

GRADE_LABELS = {
    Grade.GREEN: "Recommended",
    Grade.AMBER: "Acceptable",
    Grade.RED: "Unprotected",
    Grade.INTERNAL: "Inside one server",
    Grade.UNKNOWN: "Unknown",
}

SOURCE_LABELS = {
    Source.OBSERVED: "observed: seen by mua or the embedded stack itself",
    Source.RECORDED: "recorded: written by your own provider",
    Source.CLAIMED: "claimed: written upstream; anyone could have written it",
}


def grade_colour(grade: Grade) -> QColor:
    return QColor(GRADE_COLOURS[grade])
