"""The journey diagram: RFC 5598 role boxes joined by one arrow per leg.

`HopDiagram` shows what `hop_plan.HopDiagramPlan` computes (colour is the grade, line
style the source, a bar where a policy refused the leg: `hop_paint.DiagramPainter` draws
it, `hop_legend` says which is which), shrinks it to fit down to a
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
    QResizeEvent,
)
from PySide6.QtWidgets import QApplication, QWidget

from mua.core.i18n import _, translated
from mua.core.legs import Trace
from mua.gui import hop_accessible, hop_export
from mua.gui import hop_legend as legend
from mua.gui import hop_plan as hm
from mua.gui.hop_accessible import LegKeys
from mua.gui.hop_paint import CENTRE, DiagramPainter, mix
from mua.gui.theme import grade_colour

READABLE_PT = 9.0  # no text of the diagram is drawn smaller (nor below the app's font)


class HopDiagram(LegKeys, QWidget):
    """Role boxes joined by one arrow per leg; click an arrow or its label to select the leg.
    Screen readers see a list of legs, the keyboard moves between them (`hop_accessible`)."""

    legClicked = Signal(int)
    heightChanged = Signal()  # the journey wrapped onto more or fewer rows

    def __init__(self, parent: QWidget | None = None) -> None:
        hop_accessible.install(HopDiagram)  # before Qt first asks for its interface
        super().__init__(parent)
        self._trace: Trace | None = None
        self._model = hm.HopDiagramPlan.from_trace(None)
        self._selected: int | None = None
        self._hover: int | None = None
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._relayout()

    def set_trace(self, trace: Trace | None) -> None:
        """Show `trace`'s journey; None shows the empty state."""
        self._trace = trace
        self._model = hm.HopDiagramPlan.from_trace(trace)
        self._selected = self._hover = self._current = None
        self._relayout()
        hop_accessible.announce_legs(self)

    def trace(self) -> Trace | None:
        return self._trace

    def model(self) -> hm.HopDiagramPlan:
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

    def _legend_lines(self, width: float, dim: QColor | None = None) -> list[legend.Row]:
        rows = legend.rows(QColor() if dim is None else dim, refused=self._refused())
        return legend.wrapped(rows, QFontMetricsF(self.font()), width)

    def _legend_min_width(self) -> float:
        fm = QFontMetricsF(self.font())
        rows = legend.rows(QColor(), refused=self._refused())
        return legend.min_width(rows, fm) + 2 * self._m.margin

    def _legend_width(self) -> float:
        rows = legend.rows(QColor(), refused=self._refused())
        return legend.natural_width(rows, QFontMetricsF(self.font()))

    def _refused(self) -> bool:
        """Some leg was refused by a policy: the legend explains the bar."""
        return any(a.refused for a in self._model.arrows)

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
            p.setPen(mix(bg, fg, 0.6))
            p.setFont(self._font(1.0))
            empty = _("No leg of this message's journey is known")
            if self._trace is None:
                empty = _("Select a message to see how it travelled")
            p.drawText(QRectF(0, 0, width, height), CENTRE, empty)
            return
        p.translate(self._origin(width, scale), 0)
        p.scale(scale, scale)
        painter = DiagramPainter(
            p, self._model, self._layout, self._m, font=self._font, bg=bg, fg=fg
        )
        painter.legs(
            selected=self._selected if interactive else None,
            hover=self._hover if interactive else None,
        )
        if interactive and self.hasFocus() and self.current_leg is not None:
            painter.focus_ring(self.current_leg, pal.color(QPalette.ColorRole.Highlight))
        painter.legend(self._legend_lines, self._content_size().width(), self.font())

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
