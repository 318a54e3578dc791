"""The journey diagram: RFC 5598 role boxes joined by one arrow per leg.

`HopDiagram` paints what `hop_model.HopDiagramModel` computes (colour is the grade, line
style the source, a bar where a policy refused the leg), shrinks it to fit down to a
readable size (`READABLE_PT`), then wraps it onto more rows, handles clicks, hover and keys,
and exports PNG or SVG (in one row). `hop_panel.HopPanel` puts it above the details of the
selected leg.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QEvent, QLineF, QPointF, QRectF, QSize, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetricsF,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QPolygonF,
    QResizeEvent,
)
from PySide6.QtWidgets import QApplication, QWidget

from mua.core.i18n import N_, _, translated
from mua.core.legs import Source, Trace
from mua.gui import hop_accessible, hop_export
from mua.gui import hop_legend as legend
from mua.gui import hop_model as hm
from mua.gui.hop_accessible import LegKeys
from mua.gui.hop_legend import REFUSED_STYLE as _REFUSED_STYLE
from mua.gui.hop_legend import paint_refused as _paint_refused
from mua.gui.hop_legend import pen as _pen
from mua.gui.theme import GRADE_GLYPHS, GRADE_LABELS, grade_colour

_SOURCE_WORDS = {
    Source.OBSERVED: N_("observed"),
    Source.RECORDED: N_("recorded by your provider"),
    Source.CLAIMED: N_("claimed upstream (unverifiable)"),
}
_CENTRE, _VCENTRE = Qt.AlignmentFlag.AlignCenter, Qt.AlignmentFlag.AlignVCenter
READABLE_PT = 9.0  # no text of the diagram is drawn smaller (nor below the app's font)


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor.fromRgbF(
        *(x * (1 - t) + y * t for x, y in zip(a.getRgbF(), b.getRgbF(), strict=True))
    )


def _alpha(colour: QColor, alpha: int) -> QColor:
    c = QColor(colour)
    c.setAlpha(alpha)
    return c


class HopDiagram(LegKeys, QWidget):
    """Role boxes joined by one arrow per leg; click an arrow or its label to select the leg.
    Screen readers see a list of legs, the keyboard moves between them (`hop_accessible`)."""

    legClicked = Signal(int)
    heightChanged = Signal()  # the journey wrapped onto more or fewer rows

    def __init__(self, parent: QWidget | None = None) -> None:
        hop_accessible.install()  # before Qt first asks for this widget's interface
        super().__init__(parent)
        self._trace: Trace | None = None
        self._model = hm.HopDiagramModel.from_trace(None)
        self._selected: int | None = None
        self._hover: int | None = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._relayout()

    def set_trace(self, trace: Trace | None) -> None:
        """Show `trace`'s journey; None shows the empty state."""
        self._trace = trace
        self._model = hm.HopDiagramModel.from_trace(trace)
        self._selected = self._hover = self._current = None
        self._relayout()
        hop_accessible.announce_legs(self)

    def trace(self) -> Trace | None:
        return self._trace

    def model(self) -> hm.HopDiagramModel:
        return self._model

    @property
    def selected_leg(self) -> int | None:
        return self._selected

    def set_selected_leg(self, index: int | None) -> None:
        in_range = index is not None and 0 <= index < len(self._model.arrows)
        self._selected = index if in_range else None
        if self._selected is not None:
            self._current = self._selected  # the focus ring follows a click
        self.update()

    # -- geometry, in widget coordinates ----------------------------------------------------

    def _font(self, delta: float = 0.0, bold: bool = False, italic: bool = False) -> QFont:
        font = QFont(self.font())
        if delta:
            size = font.pointSizeF() + delta  # smaller text never below the readable size
            font.setPointSizeF(max(self._readable_pt(), size) if delta < 0 else size)
        font.setBold(bold)
        font.setItalic(italic)
        return font

    def _relayout(self) -> None:
        lh = QFontMetricsF(self.font()).height()
        bold = QFontMetricsF(self._font(bold=True))
        plain = QFontMetricsF(self.font())
        widest = max(  # the first line of a label is bold, the rest plain
            (
                (bold if n == 0 else plain).horizontalAdvance(line)
                for a in self._model.arrows
                for n, line in enumerate(a.label)
            ),
            default=0.0,
        )
        box_w = max(5.6 * lh, QFontMetricsF(self._font(1.5, True)).horizontalAdvance("MUA") * 2)
        self._m = hm.Metrics(
            box_w=box_w,
            box_h=3.7 * lh,
            gap=max(3.4 * lh, widest + 0.9 * lh - box_w),  # the widest label fits one pitch
            break_gap=1.9 * lh,
            margin=0.9 * lh,
            label_gap=0.6 * lh,
            line_h=lh,
            label_lines=max((len(a.label) for a in self._model.arrows), default=5),
        )
        self._natural = self._model.layout(self._m)
        self._wrap_to(self.width())
        self.updateGeometry()
        self.update()

    def _readable_pt(self) -> float:
        app = QApplication.font().pointSizeF()
        return min(READABLE_PT, app) if app > 0 else READABLE_PT

    def min_scale(self) -> float:
        """The smallest the diagram is drawn: none of its text below READABLE_PT (or the
        application's font size, when that is smaller). Narrower than that, it wraps."""
        base = self.font().pointSizeF()
        smallest = min(base, max(self._readable_pt(), base - 1.0))
        return min(1.0, self._readable_pt() / smallest) if smallest > 0 else 1.0

    def _wrap_to(self, width: float) -> None:
        """Lay the journey out for a widget `width` pixels wide: in one row when it fits at
        a readable scale, else wrapped onto as many rows as it takes (it then grows taller:
        `heightChanged` tells the panel)."""
        floor, m = self.min_scale(), self._m
        self._wrap = None
        self._layout = self._natural
        if self._model.arrows and self._content_size().width() * floor > max(width, 1):
            self._wrap = max(width / floor, 2 * m.margin + 2 * m.box_w + m.gap)
            self._layout = self._model.layout(m, self._wrap)
        if self._model.arrows:
            narrowest = max(2 * m.margin + 2 * m.box_w + m.gap, self._legend_min_width())
            min_width = int(narrowest * floor) + 1
        else:
            min_width = self._content_size().width()
        height = math.ceil(self._content_size().height() * self._scale_at(width))
        if (min_width, height) != (self.minimumWidth(), self.minimumHeight()):
            self.setMinimumSize(QSize(min_width, height))
            self.heightChanged.emit()

    def rows_at(self, width: float) -> int:
        """How many rows the journey takes in a widget `width` pixels wide."""
        floor = self.min_scale()
        if not self._model.arrows or self._content_size(natural=True).width() * floor <= width:
            return 1
        layout = self._model.layout(self._m, max(width, 1) / floor)
        return len({round(r.y) for r in layout.boxes})

    def resizeEvent(self, event: QResizeEvent) -> None:
        if event.size().width() != event.oldSize().width():
            self._wrap_to(event.size().width())
        super().resizeEvent(event)

    def _legend_rows(
        self, dim: QColor
    ) -> list[tuple[str, list[tuple[QColor, hm.LineStyle | None, str]]]]:
        grades = [(grade_colour(g), hm.LineStyle.SOLID, GRADE_LABELS[g]) for g in hm.GRADE_ORDER]
        graded = zip(hm.GRADE_ORDER, grades, strict=True)  # the glyph says it without colour
        sources = [(dim, hm.SOURCE_STYLES[s], _SOURCE_WORDS[s]) for s in Source]
        rows = [
            (
                _("Grade"),
                [(c, s, f"{GRADE_GLYPHS[g]} {_(t)}") for g, (c, s, t) in graded],
            ),
            (_("Source"), [(c, s, _(t)) for c, s, t in sources]),
        ]
        if any(a.refused for a in self._model.arrows):
            refused = (dim, _REFUSED_STYLE, _("refused by a policy: nothing sent"))
            rows.append((_("Outcome"), [refused]))
        return rows

    def _legend_lines(self, width: float, dim: QColor | None = None) -> list[legend.Row]:
        rows = self._legend_rows(QColor() if dim is None else dim)
        return legend.wrapped(rows, QFontMetricsF(self.font()), width)

    def _legend_min_width(self) -> float:
        fm = QFontMetricsF(self.font())
        return legend.min_width(self._legend_rows(QColor()), fm) + 2 * self._m.margin

    def _legend_width(self) -> float:
        return legend.natural_width(self._legend_rows(QColor()), QFontMetricsF(self.font()))

    def _content_size(self, *, natural: bool = False) -> QSize:
        """The drawing's size at scale 1: as laid out now, or in one row (`natural`)."""
        layout, wrap = (self._natural, None) if natural else (self._layout, self._wrap)
        if not self._model.arrows:
            w = QFontMetricsF(self.font()).height() * 24
        elif wrap is not None:
            w = math.floor(wrap)
        else:
            w = math.ceil(max(layout.width, self._legend_width() + 2 * self._m.margin))
        lines = len(self._legend_lines(w - 2 * self._m.margin) if self._model.arrows else [])
        legend_h = lines * (self._m.line_h + 6) + self._m.margin
        return QSize(int(w), int(layout.height + legend_h + 1))

    def drawn_size(self) -> QSizeF:
        """The journey as painted in the widget now (content size times the scale)."""
        size = self._content_size()
        return QSizeF(size.width() * self.scale(), size.height() * self.scale())

    def sizeHint(self) -> QSize:
        return self._content_size(natural=True)

    def minimumSizeHint(self) -> QSize:
        return self.minimumSize()

    def scale(self) -> float:
        """How much the diagram is shrunk to fit the widget's width: down to `min_scale`,
        below which the journey wraps onto more rows (and scrolls sideways only when even
        one leg a row is too wide)."""
        return self._scale_at(self.width())

    def _scale_at(self, width: float) -> float:
        if not self._model.arrows:
            return 1.0
        if self._wrap is not None:
            return self.min_scale()
        return min(1.0, max(self.min_scale(), width / self._content_size().width()))

    def _origin(self, width: float | None = None, scale: float | None = None) -> float:
        """The diagram is centred when the widget is wider than it."""
        shown = self._content_size().width() * (self.scale() if scale is None else scale)
        return max(0.0, ((width or self.width()) - shown) / 2)

    def _to_widget(self, x: float, y: float) -> QPointF:
        return QPointF(self._origin() + x * self.scale(), y * self.scale())

    def _to_diagram(self, pos: QPointF) -> QPointF:
        return QPointF((pos.x() - self._origin()) / self.scale(), pos.y() / self.scale())

    def arrow_line(self, index: int) -> QLineF:
        x1, x2, y = self._layout.arrows[index]
        return QLineF(self._to_widget(x1, y), self._to_widget(x2, y))

    def label_rect(self, index: int) -> QRectF:
        r = self._layout.labels[index]
        return QRectF(self._to_widget(r.x, r.y), self._to_widget(r.x + r.w, r.y + r.h))

    def arrow_colour(self, index: int) -> QColor:
        return grade_colour(self._model.arrows[index].grade)

    def leg_at(self, pos: QPointF) -> int | None:
        at = self._to_diagram(pos)
        return self._layout.leg_at(at.x(), at.y())

    # -- input ------------------------------------------------------------------------------

    def mousePressEvent(self, event: QMouseEvent) -> None:
        index = self.leg_at(event.position())
        if index is None or event.button() != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        self.set_selected_leg(index)
        self.legClicked.emit(index)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position()
        index = self.leg_at(pos)
        at = self._to_diagram(pos)
        boxes = zip(self._model.boxes, self._layout.boxes, strict=True)
        box = next((b for b, r in boxes if r.contains(at.x(), at.y())), None)
        if index is not None:
            self.setToolTip(translated(self._model.arrows[index].leg.note))
        else:
            self.setToolTip(" ".join([box.role.value, *box.hosts]) if box else "")
        if index != self._hover:
            self._hover = index
            hand = Qt.CursorShape.PointingHandCursor
            self.setCursor(hand if index is not None else Qt.CursorShape.ArrowCursor)
            self.update()
        super().mouseMoveEvent(event)

    def leaveEvent(self, event: QEvent) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def changeEvent(self, event: QEvent) -> None:
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.PaletteChange):
            self._relayout()
        super().changeEvent(event)

    # -- painting ---------------------------------------------------------------------------

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        self._paint(painter, self.width(), self.height(), interactive=True, scale=self.scale())
        painter.end()

    def _paint(
        self, p: QPainter, width: float, height: float, *, interactive: bool, scale: float = 1.0
    ) -> None:
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.setRenderHint(QPainter.RenderHint.TextAntialiasing)
        pal = self.palette()
        bg, fg = pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Text)
        p.fillRect(QRectF(0, 0, width, height), bg)
        if not self._model.arrows:
            p.setPen(_mix(bg, fg, 0.6))
            p.setFont(self._font(1.0))
            empty = _("No leg of this message's journey is known")
            if self._trace is None:
                empty = _("Select a message to see how it travelled")
            p.drawText(QRectF(0, 0, width, height), _CENTRE, empty)
            return
        p.translate(self._origin(width, scale), 0)
        p.scale(scale, scale)
        hover = self._hover if interactive else None
        selected = self._selected if interactive else None
        self._paint_breaks(p, _mix(bg, fg, 0.45))
        for i in range(len(self._model.arrows)):
            self._paint_arrow(p, i, fg, selected=i == selected, hovered=i == hover)
        self._paint_boxes(p, bg, fg)
        for i in range(len(self._model.arrows)):
            self._paint_label(p, i, bg, fg, selected=i == selected, hovered=i == hover)
        if interactive and self.hasFocus() and self.current_leg is not None:
            self._paint_focus(p, self.current_leg)
        self._paint_legend(p, bg, fg)

    def _paint_focus(self, p: QPainter, i: int) -> None:
        """The keyboard's focus ring around leg `i`'s label (just clear of its background)."""
        r = self._layout.labels[i]
        ring = QRectF(r.x - 2, r.y - 5, r.w + 4, r.h + 10)
        p.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2, Qt.PenStyle.DashLine))
        p.drawRoundedRect(ring, 6, 6)

    def _paint_breaks(self, p: QPainter, colour: QColor) -> None:
        half = self._m.break_gap / 2 - 3
        p.setFont(self._font(-1.0))
        for x, y in self._layout.breaks:  # a step nobody recorded
            p.setPen(_pen(colour, 1.5, hm.LineStyle.DOTTED))
            p.drawLine(QLineF(x - half, y, x + half, y))
            p.setPen(colour)
            p.drawText(QRectF(x - 20, y - 24, 40, 18), _CENTRE, "?")

    def _paint_arrow(
        self, p: QPainter, i: int, fg: QColor, *, selected: bool, hovered: bool
    ) -> None:
        arrow = self._model.arrows[i]
        x1, x2, y = self._layout.arrows[i]
        colour = grade_colour(arrow.grade)
        head = 0.75 * self._m.line_h
        if selected or hovered:
            p.setPen(_pen(_alpha(colour, 90 if selected else 45), 12))
            p.drawLine(QLineF(x1 + 3, y, x2 - 3, y))
        p.setPen(_pen(colour, 4.0 if selected else 3.0, arrow.style))
        if arrow.refused:  # stopped before the message went: a line that ends in a bar
            _paint_refused(p, colour, x1 + 3, x1 + 0.6 * (x2 - x1), y, head)
        else:
            p.drawLine(QLineF(x1 + 3, y, x2 - head, y))
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(colour)
            tip, back = QPointF(x2 - 1, y), x2 - head - 1
            p.drawPolygon(
                QPolygonF([tip, QPointF(back, y - head / 2), QPointF(back, y + head / 2)])
            )
            p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(_mix(fg, colour, 0.35))
        p.setFont(self._font(-1.0, bold=True))
        number = QRectF(x1, y - self._m.box_h / 2, x2 - x1, self._m.box_h / 2 - 4)
        mark = f"{i + 1} {GRADE_GLYPHS[arrow.grade]}"  # the grade without colour
        p.drawText(number, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, mark)

    def _paint_boxes(self, p: QPainter, bg: QColor, fg: QColor) -> None:
        role_font, host_font = self._font(1.5, bold=True), self._font(-1.0)
        host_h = QFontMetricsF(host_font).height()
        role_h = 1.3 * self._m.line_h
        placed = [*zip(self._model.boxes, self._layout.boxes, strict=True)]
        copies = [(self._model.boxes[i], r) for i, r in self._layout.copies]  # row starts
        for box, r in placed + copies:
            p.setPen(QPen(_mix(bg, fg, 0.4), 1.2))
            p.setBrush(_mix(bg, fg, 0.06))
            p.drawRoundedRect(QRectF(r.x + 0.5, r.y + 0.5, r.w - 1, r.h - 1), 8, 8)
            hosts = box.hosts[:2]
            top = r.y + (r.h - role_h - len(hosts) * host_h) / 2
            p.setPen(fg)
            p.setFont(role_font)
            p.drawText(QRectF(r.x, top, r.w, role_h), _CENTRE, box.role.value)
            p.setFont(host_font)
            p.setPen(_mix(bg, fg, 0.7))
            for n, host in enumerate(hosts):
                text = QFontMetricsF(host_font).elidedText(
                    host, Qt.TextElideMode.ElideMiddle, r.w - 8
                )
                p.drawText(
                    QRectF(r.x + 4, top + role_h + n * host_h, r.w - 8, host_h), _CENTRE, text
                )
        p.setBrush(Qt.BrushStyle.NoBrush)

    def _paint_label(
        self, p: QPainter, i: int, bg: QColor, fg: QColor, *, selected: bool, hovered: bool
    ) -> None:
        arrow = self._model.arrows[i]
        r = self._layout.labels[i]
        colour = grade_colour(arrow.grade)
        p.setPen(QPen(colour, 1.5) if selected else Qt.PenStyle.NoPen)
        p.setBrush(_alpha(colour, 70 if selected else 48 if hovered else 26))
        p.drawRoundedRect(QRectF(r.x, r.y - 3, r.w, r.h + 6), 6, 6)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for n, line in enumerate(arrow.label):
            source_line = arrow.leg.source is not Source.OBSERVED and n == len(arrow.label) - 1
            p.setFont(self._font(bold=n == 0, italic=source_line))
            p.setPen(_mix(bg, fg, 0.65) if source_line else fg)
            p.drawText(QRectF(r.x, r.y + n * self._m.line_h, r.w, self._m.line_h), _CENTRE, line)

    def _paint_legend(self, p: QPainter, bg: QColor, fg: QColor) -> None:
        m, dim = self._m.margin, _mix(bg, fg, 0.65)
        right = self._content_size().width() - m
        box = QRectF(m, self._layout.height, right - m, 0)
        legend.paint(
            p,
            self._legend_lines(right - m, dim),
            fonts=(self.font(), self._font(bold=True)),
            box=box,
            margin=m,
            line_h=self._m.line_h,
            colours=(_mix(bg, fg, 0.15), dim, fg),
        )

    # -- export (mua/gui/hop_export.py) ---------------------------------------------------

    def render_png(self, path: str | Path, scale: float = 2) -> Path:
        """The whole diagram (without hover or selection) as a PNG, `scale` pixels per point."""
        return hop_export.png(self, path, scale)

    def render_svg(self, path: str | Path) -> Path:
        return hop_export.svg(self, path)

    def paint_on(self, painter: QPainter, width: float, height: float) -> None:
        self._paint(painter, width, height, interactive=False)

    @contextlib.contextmanager
    def in_one_row(self) -> Iterator[QSize]:
        """Exports show the journey in one row, however the widget wraps it on screen."""
        layout, wrap = self._layout, self._wrap
        self._layout, self._wrap = self._natural, None
        try:
            yield self._content_size()
        finally:
            self._layout, self._wrap = layout, wrap
