"""The hop diagram's legend (which colour is which grade, which line which source, the bar
of a refused leg): its rows (`rows`), wrapped to the diagram's width, and the pens both draw
with. `hop_diagram.HopDiagram` says where the legend goes."""

from __future__ import annotations

from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen

from mua.core.i18n import N_, _
from mua.core.leg_text import GRADE_ORDER
from mua.core.legs import Source
from mua.gui import hop_plan as hm
from mua.gui.theme import GRADE_GLYPHS, GRADE_LABELS, grade_colour

_DASHES = {hm.LineStyle.SOLID: [], hm.LineStyle.DASHED: [3.0, 2.0], hm.LineStyle.DOTTED: [0.1, 2.2]}
REFUSED_STYLE = None  # in a legend entry: the refused leg's bar instead of a line style
ENTRY_GAP = 48  # px beside an entry's text: its line sample and the space before the next
HEAD_GAP = 12  # px after a row's title

Entry = tuple[QColor, hm.LineStyle | None, str]
Row = tuple[str, list[Entry]]

_SOURCE_WORDS = {
    Source.OBSERVED: N_("observed"),
    Source.RECORDED: N_("recorded by your provider"),
    Source.CLAIMED: N_("claimed upstream (unverifiable)"),
}


def rows(dim: QColor, *, refused: bool) -> list[Row]:
    """Grades (colour and glyph), sources (line style, in `dim`), and the refused leg's bar
    when the journey has one."""
    grades = [(grade_colour(g), hm.LineStyle.SOLID, GRADE_LABELS[g]) for g in GRADE_ORDER]
    graded = zip(GRADE_ORDER, grades, strict=True)  # the glyph says it without colour
    sources = [(dim, hm.SOURCE_STYLES[s], _SOURCE_WORDS[s]) for s in Source]
    result: list[Row] = [
        (
            _("Grade"),
            [(c, s, f"{GRADE_GLYPHS[g]} {_(t)}") for g, (c, s, t) in graded],
        ),
        (_("Source"), [(c, s, _(t)) for c, s, t in sources]),
    ]
    if refused:
        result.append(
            (_("Outcome"), [(dim, REFUSED_STYLE, _("refused by a policy: nothing sent"))])
        )
    return result


def pen(colour: QColor, width: float, style: hm.LineStyle = hm.LineStyle.SOLID) -> QPen:
    result = QPen(colour, width)
    round_cap = style is hm.LineStyle.DOTTED
    result.setCapStyle(Qt.PenCapStyle.RoundCap if round_cap else Qt.PenCapStyle.FlatCap)
    if _DASHES[style]:
        result.setDashPattern(_DASHES[style])
    return result


def paint_refused(p: QPainter, colour: QColor, x1: float, x2: float, y: float, h: float) -> None:
    """A refused leg: the line stops short and ends in a bar (nothing crossed)."""
    p.drawLine(QLineF(x1, y, x2, y))
    p.setPen(pen(colour, 3.0))
    p.drawLine(QLineF(x2, y - h / 2 - 2, x2, y + h / 2 + 2))


def _head(rows: list[Row], fm: QFontMetricsF) -> float:
    return max(fm.horizontalAdvance(title) for title, _ in rows) + HEAD_GAP


def natural_width(rows: list[Row], fm: QFontMetricsF) -> float:
    """Every row on one line."""
    return _head(rows, fm) + max(
        sum(ENTRY_GAP + fm.horizontalAdvance(t) for *_, t in entries) for _, entries in rows
    )


def min_width(rows: list[Row], fm: QFontMetricsF) -> float:
    """One entry a line."""
    return _head(rows, fm) + max(
        ENTRY_GAP + fm.horizontalAdvance(t) for _, e in rows for *_, t in e
    )


def wrapped(rows: list[Row], fm: QFontMetricsF, width: float) -> list[Row]:
    """The rows wrapped to `width` (a continuation line has no title)."""
    head, lines = _head(rows, fm), []
    for title, entries in rows:
        line: list[Entry] = []
        x, shown = head, title
        for entry in entries:
            step = ENTRY_GAP + fm.horizontalAdvance(entry[2])
            if line and x + step > width:
                lines.append((shown, line))
                shown, line, x = "", [], head
            line.append(entry)
            x += step
        lines.append((shown, line))
    return lines


def paint(
    p: QPainter,
    rows: list[Row],
    *,
    fonts: tuple[QFont, QFont],
    box: QRectF,
    margin: float,
    line_h: float,
    colours: tuple[QColor, QColor, QColor],
) -> None:
    """The legend's lines (already wrapped) from the top left of `box`, under a rule;
    `colours` are the rule's, the titles' and the text's."""
    plain, bold = fonts
    rule, dim, fg = colours
    fm = QFontMetricsF(plain)
    p.setPen(QPen(rule, 1))
    p.drawLine(QLineF(box.left(), box.top() - margin / 2, box.right(), box.top() - margin / 2))
    head = _head(rows, fm)
    for row, (title, entries) in enumerate(rows):
        y = box.top() + row * (line_h + 6)
        p.setFont(bold)
        p.setPen(dim)
        p.drawText(QRectF(box.left(), y, head, line_h), Qt.AlignmentFlag.AlignVCenter, title)
        p.setFont(plain)
        x = box.left() + head
        for colour, style, text in entries:
            p.setPen(pen(colour, 3.0, hm.LineStyle.SOLID if style is None else style))
            if style is REFUSED_STYLE:
                paint_refused(p, colour, x, x + 22, y + line_h / 2, line_h * 0.6)
            else:
                p.drawLine(QLineF(x, y + line_h / 2, x + 26, y + line_h / 2))
            p.setPen(fg)
            width = fm.horizontalAdvance(text)
            p.drawText(QRectF(x + 32, y, width + 2, line_h), Qt.AlignmentFlag.AlignVCenter, text)
            x += ENTRY_GAP + width
