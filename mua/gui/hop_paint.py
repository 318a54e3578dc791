"""Painting one frame of the journey diagram: the breaks, arrows, role boxes, labels, the
keyboard's focus ring and the legend, where `hop_plan` laid them out.

`HopDiagram` (mua/gui/hop_diagram.py) owns the state (which leg is selected, hovered or
focused, the scale) and hands a `DiagramPainter` what one frame needs; the painter keeps
nothing between frames.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen, QPolygonF

from mua.core.legs import Source
from mua.gui import hop_legend as legend
from mua.gui import hop_plan as hm
from mua.gui.hop_legend import paint_refused, pen
from mua.gui.theme import GRADE_GLYPHS, grade_colour

CENTRE = Qt.AlignmentFlag.AlignCenter
FontFor = Callable[..., QFont]  # HopDiagram._font(delta=0.0, bold=False, italic=False)


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """`t` of the way from `a` to `b`, alpha included."""

    def between(x: float, y: float) -> float:
        return x * (1 - t) + y * t

    return QColor.fromRgbF(
        between(a.redF(), b.redF()),
        between(a.greenF(), b.greenF()),
        between(a.blueF(), b.blueF()),
        between(a.alphaF(), b.alphaF()),
    )


def _alpha(colour: QColor, alpha: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


class DiagramPainter:
    """Draws `plan` as `layout` places it, in diagram coordinates, on `p`; `bg` and `fg` are
    the palette's base and text colours, `font` gives the diagram's fonts."""

    def __init__(
        self,
        p: QPainter,
        plan: hm.HopDiagramPlan,
        layout: hm.Layout,
        metrics: hm.Metrics,
        *,
        font: FontFor,
        bg: QColor,
        fg: QColor,
    ) -> None:
        self.p, self.plan, self.layout, self.m = p, plan, layout, metrics
        self.font, self.bg, self.fg = font, bg, fg

    def legs(self, *, selected: int | None, hover: int | None) -> None:
        """Breaks, arrows, boxes, then the labels over them."""
        self.breaks(mix(self.bg, self.fg, 0.45))
        for i in range(len(self.plan.arrows)):
            self.arrow(i, selected=i == selected, hovered=i == hover)
        self.boxes()
        for i in range(len(self.plan.arrows)):
            self.label(i, selected=i == selected, hovered=i == hover)

    def focus_ring(self, i: int, colour: QColor) -> None:
        """The keyboard's focus ring around leg `i`'s label (just clear of its background)."""
        r = self.layout.labels[i]
        ring = QRectF(r.x - 2, r.y - 5, r.w + 4, r.h + 10)
        self.p.setPen(QPen(colour, 2, Qt.PenStyle.DashLine))
        self.p.drawRoundedRect(ring, 6, 6)

    def breaks(self, colour: QColor) -> None:
        p = self.p
        half = self.m.break_gap / 2 - 3
        p.setFont(self.font(-1.0))
        for x, y in self.layout.breaks:  # a step nobody recorded
            p.setPen(pen(colour, 1.5, hm.LineStyle.DOTTED))
            p.drawLine(QLineF(x - half, y, x + half, y))
            p.setPen(colour)
            p.drawText(QRectF(x - 20, y - 24, 40, 18), CENTRE, "?")

    def arrow(self, i: int, *, selected: bool, hovered: bool) -> None:
        p = self.p
        arrow = self.plan.arrows[i]
        x1, x2, y = self.layout.arrows[i]
        colour = grade_colour(arrow.grade)
        head = 0.75 * self.m.line_h
        if selected or hovered:
            p.setPen(pen(_alpha(colour, 90 if selected else 45), 12))
            p.drawLine(QLineF(x1 + 3, y, x2 - 3, y))
        p.setPen(pen(colour, 4.0 if selected else 3.0, arrow.style))
        if arrow.refused:  # stopped before the message went: a line that ends in a bar
            paint_refused(p, colour, x1 + 3, x1 + 0.6 * (x2 - x1), y, head)
        else:
            p.drawLine(QLineF(x1 + 3, y, x2 - head, y))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(colour)
            tip, back = QPointF(x2 - 1, y), x2 - head - 1
            p.drawPolygon(
                QPolygonF([tip, QPointF(back, y - head / 2), QPointF(back, y + head / 2)])
            )
            p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(mix(self.fg, colour, 0.35))
        p.setFont(self.font(-1.0, bold=True))
        number = QRectF(x1, y - self.m.box_h / 2, x2 - x1, self.m.box_h / 2 - 4)
        mark = f"{i + 1} {GRADE_GLYPHS[arrow.grade]}"  # the grade without colour
        p.drawText(number, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, mark)

    def boxes(self) -> None:
        p, bg, fg = self.p, self.bg, self.fg
        role_font, host_font = self.font(1.5, bold=True), self.font(-1.0)
        host_h = QFontMetricsF(host_font).height()
        role_h = 1.3 * self.m.line_h
        placed = [*zip(self.plan.boxes, self.layout.boxes, strict=True)]
        copies = [(self.plan.boxes[i], r) for i, r in self.layout.copies]  # row starts
        for box, r in placed + copies:
            p.setPen(QPen(mix(bg, fg, 0.4), 1.2))
            p.setBrush(mix(bg, fg, 0.06))
            p.drawRoundedRect(QRectF(r.x + 0.5, r.y + 0.5, r.w - 1, r.h - 1), 8, 8)
            hosts = box.hosts[:2]
            top = r.y + (r.h - role_h - len(hosts) * host_h) / 2
            p.setPen(fg)
            p.setFont(role_font)
            p.drawText(QRectF(r.x, top, r.w, role_h), CENTRE, box.role.value)
            p.setFont(host_font)
            p.setPen(mix(bg, fg, 0.7))
            for n, host in enumerate(hosts):
                text = QFontMetricsF(host_font).elidedText(
                    host, Qt.TextElideMode.ElideMiddle, r.w - 8
                )
                p.drawText(
                    QRectF(r.x + 4, top + role_h + n * host_h, r.w - 8, host_h), CENTRE, text
                )
        p.setBrush(Qt.BrushStyle.NoBrush)

    def label(self, i: int, *, selected: bool, hovered: bool) -> None:
        p, bg, fg = self.p, self.bg, self.fg
        arrow = self.plan.arrows[i]
        r = self.layout.labels[i]
        colour = grade_colour(arrow.grade)
        p.setPen(QPen(colour, 1.5) if selected else Qt.PenStyle.NoPen)
        p.setBrush(_alpha(colour, 70 if selected else 48 if hovered else 26))
        p.drawRoundedRect(QRectF(r.x, r.y - 3, r.w, r.h + 6), 6, 6)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for n, line in enumerate(arrow.label):
            source_line = arrow.leg.source is not Source.OBSERVED and n == len(arrow.label) - 1
            p.setFont(self.font(bold=n == 0, italic=source_line))
            p.setPen(mix(bg, fg, 0.65) if source_line else fg)
            p.drawText(QRectF(r.x, r.y + n * self.m.line_h, r.w, self.m.line_h), CENTRE, line)

    def legend(
        self, lines: Callable[[float, QColor], list[legend.Row]], width: float, plain: QFont
    ) -> None:
        """Below the legs, across `width` (the drawing's), in `plain` and its bold:
        `lines(width, colour)` are its rows wrapped to a width, with the dimmed colour of
        the source entries."""
        bg, fg = self.bg, self.fg
        m, dim = self.m.margin, mix(bg, fg, 0.65)
        right = width - m
        box = QRectF(m, self.layout.height, right - m, 0)
        legend.paint(
            self.p,
            lines(right - m, dim),
            fonts=(plain, self.font(bold=True)),
            box=box,
            margin=m,
            line_h=self.m.line_h,
            colours=(mix(bg, fg, 0.15), dim, fg),
        )
