"""Colours, labels and sizes shared by every view: one meaning, one look."""

from __future__ import annotations

from PySide6.QtGui import QColor

from mua.core.i18n import N_, _
from mua.core.legs import Grade, Source

GRADE_COLOURS = {
    Grade.GREEN: QColor("#1e9e4a"),
    Grade.AMBER: QColor("#e0a100"),
    Grade.RED: QColor("#d62d20"),
    Grade.INTERNAL: QColor("#3b7dd8"),
    Grade.UNKNOWN: QColor("#8a8a8a"),
}

GRADE_LABELS = {  # marked for translation; _() where shown (the language is set after import)
    Grade.GREEN: N_("Recommended"),
    Grade.AMBER: N_("Acceptable"),
    Grade.RED: N_("Unprotected"),
    Grade.INTERNAL: N_("Inside one server"),
    Grade.UNKNOWN: N_("Unknown"),
}

# The grade without colour: drawn beside each leg's number and said by screen readers.
GRADE_GLYPHS = {
    Grade.GREEN: "\u2713",  # check mark
    Grade.AMBER: "!",
    Grade.RED: "\u2717",  # ballot x
    Grade.INTERNAL: "\u2302",  # house: inside one server
    Grade.UNKNOWN: "?",
}

SOURCE_LABELS = {
    Source.OBSERVED: N_("observed: seen by mua or the embedded stack itself"),
    Source.RECORDED: N_("recorded: written by your own provider"),
    Source.CLAIMED: N_("claimed: written upstream; anyone could have written it"),
}


def grade_colour(grade: Grade) -> QColor:
    return QColor(GRADE_COLOURS[grade])


def human_size(size: int) -> str:
    """12 B, 3.5 KB, 1.2 MB: sizes as lists show them."""
    value = float(size)
    # TRANSLATORS: size units: bytes, kilobytes, megabytes, gigabytes
    for unit in (N_("B"), N_("KB"), N_("MB"), N_("GB")):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {_(unit)}" if unit == "B" else f"{value:.1f} {_(unit)}"
        value /= 1024
    raise AssertionError("unreachable")
