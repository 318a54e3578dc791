"""The hop panel: a message's journey as a diagram of RFC 5598 roles, and what each leg means.

`HopPanel` puts the diagram (`hop_diagram.HopDiagram`) in a scroll area above a details pane
that explains the clicked leg or the recommendation table, and exports it as PNG or SVG.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from mua.core import grade_text, leg_text
from mua.core.i18n import _, error_text, translated
from mua.core.legs import Grade, Trace
from mua.gui.content_row import ContentRow
from mua.gui.hop_diagram import HopDiagram
from mua.gui.theme import GRADE_LABELS, grade_colour

log = logging.getLogger(__name__)


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><td><b>{html.escape(k)}</b>&nbsp;&nbsp;</td><td>{html.escape(v)}</td></tr>"
        for k, v in rows
    )
    return f"<table cellpadding='1'>{cells}</table>"


def suggested_export_path(trace: Trace | None, suffix: str) -> str:
    """Where an export is offered to go: the user's Pictures folder for a PNG, Documents for
    an SVG (else home), named after the message's subject ('journey-Lunch.png')."""
    where = QStandardPaths.StandardLocation
    kind = where.PicturesLocation if suffix == ".png" else where.DocumentsLocation
    folder = QStandardPaths.writableLocation(kind) or QStandardPaths.writableLocation(
        where.HomeLocation
    )
    subject = re.sub(r"[^\w.-]+", "-", (trace.subject or "") if trace else "").strip("-.")
    name = f"journey-{subject[:60]}" if subject else "journey"
    return str(Path(folder) / f"{name}{suffix}")


class HopPanel(QWidget):
    """Status line, the diagram (scrolls sideways for long journeys), and a details pane."""

    legClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._trace: Trace | None = None
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setWordWrap(True)  # a long Message-ID must not force the panel's width
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.diagram = HopDiagram(self)
        self.diagram.heightChanged.connect(self._fit_height)
        self.diagram_scroll = QScrollArea(self)
        self.diagram_scroll.setWidget(self.diagram)
        self.diagram_scroll.setWidgetResizable(True)
        self.diagram_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # Tab goes to the diagram inside
        self.diagram_scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.why_button = QPushButton(_("Why these grades?"), self)
        self.why_button.setCheckable(True)
        self.png_button = QPushButton(_("Export PNG…"), self)
        self.svg_button = QPushButton(_("Export SVG…"), self)
        self.details = QTextBrowser(self)
        self.details.setAccessibleName(_("Details of the journey"))
        self.details.setOpenLinks(False)
        self.details.setOpenExternalLinks(False)
        self.details.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)  # wraps

        lower = QWidget(self)
        buttons = QHBoxLayout()
        buttons.addWidget(self.why_button)
        buttons.addStretch(1)
        buttons.addWidget(self.png_button)
        buttons.addWidget(self.svg_button)
        lower_layout = QVBoxLayout(lower)
        lower_layout.setContentsMargins(0, 0, 0, 0)
        self.content_row = ContentRow(lower)  # authenticity, under the legs, not a leg grade
        lower_layout.addWidget(self.content_row)
        lower_layout.addLayout(buttons)
        lower_layout.addWidget(self.details)
        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.addWidget(self.diagram_scroll)
        self.splitter.addWidget(lower)
        self.splitter.setCollapsible(0, False)
        self.splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status)
        layout.addWidget(self.splitter, 1)

        self.diagram.legClicked.connect(self._leg_clicked)
        self.why_button.toggled.connect(self.show_why)
        self.png_button.clicked.connect(lambda: self._export(self.export_png))
        self.svg_button.clicked.connect(lambda: self._export(self.export_svg))
        self.set_trace(None)

    def set_trace(self, trace: Trace | None) -> None:
        self._trace = trace
        self.diagram.set_trace(trace)
        self.content_row.set_content(trace.content if trace is not None else None)
        self._fit_height()
        for button in (self.png_button, self.svg_button):
            button.setEnabled(bool(trace and trace.legs))
        self.status.setText(self._status_html())
        self.why_button.setChecked(False)
        self._show_overview()
        layout = self.layout()
        if layout is not None:
            layout.activate()

    def trace(self) -> Trace | None:
        return self._trace

    def _fit_height(self) -> None:
        """The diagram's whole height in view (it wraps onto more rows when narrow), the
        room taken from the details below; a bar's height more when it must scroll."""
        frame = 2 * self.diagram_scroll.frameWidth()
        scrolls = self.diagram.minimumWidth() > self.diagram_scroll.viewport().width()
        bar = self.diagram_scroll.horizontalScrollBar().sizeHint().height() if scrolls else 0
        self.diagram_scroll.setMinimumHeight(self.diagram.minimumHeight() + bar + frame)
        need, sizes = self.diagram_scroll.minimumHeight(), self.splitter.sizes()
        if sizes[0] != need and need < sum(sizes):  # fit it: the details get the rest
            self.splitter.setSizes([need, sum(sizes) - need])

    def _status_html(self) -> str:
        if self._trace is None:
            return _("No message selected")
        words = {
            "delivered": _("Delivered"),
            "deferred": _("Deferred: still trying"),
            "bounced": _("Bounced"),
            "parsed": _("Read from its headers"),
        }
        parts = [f"<b>{words[self._trace.status.value]}</b>"]
        parts += [html.escape(s) for s in (self._trace.subject, self._trace.message_id) if s]
        return " &nbsp;·&nbsp; ".join(parts)

    def _show_overview(self) -> None:
        if self._trace is None or not self._trace.legs:
            nothing = _("Nothing to show yet.")
            self.details.setHtml(f"<p>{html.escape(nothing)}</p>")
            return
        hint = html.escape(
            _(
                "Click an arrow to see what is known about that leg, or use the arrow keys "
                "in the diagram and press Enter."
            )
        )
        self.details.setHtml(
            f"<p><b>{html.escape(leg_text.summary(self._trace))}</b></p><p>{hint}</p>"
        )

    def _leg_clicked(self, index: int) -> None:
        self.show_leg(index)
        self.legClicked.emit(index)

    def show_leg(self, index: int) -> None:
        """Select leg `index` (0-based) and show its facts, certificate and explanation."""
        if self._trace is None or not 0 <= index < len(self._trace.legs):
            return
        leg, e = self._trace.legs[index], html.escape
        self.diagram.set_selected_leg(index)
        label = self.diagram.label_rect(index)
        margin = int(label.width() / 2 + 16)
        self.diagram_scroll.ensureVisible(
            int(label.center().x()), int(label.center().y()), margin, 0
        )
        self.why_button.blockSignals(True)
        self.why_button.setChecked(False)
        self.why_button.blockSignals(False)
        chip = f"color:{grade_colour(leg.grade).name()}; font-weight:bold"
        cert = leg_text.certificate_rows(leg)
        source, certificate = _("Source"), _("Certificate")
        self.details.setHtml(
            f"<h3>{e(leg_text.leg_title(self._trace, index))}</h3>"
            f"<p><span style='{chip}'>■ {e(_(GRADE_LABELS[leg.grade]))}</span></p>"
            f"<p>{e(grade_text.explain(leg))}</p>"
            + (f"<p><i>{e(translated(leg.note))}</i></p>" if leg.note else "")
            + f"<p><b>{e(source)}:</b> {e(grade_text.source_meaning(leg.source))}</p>"
            + _table(leg_text.fact_rows(leg))
            + (f"<h4>{e(certificate)}</h4>{_table(cert)}" if cert else "")
        )

    def show_why(self, on: bool = True) -> None:
        """Show the recommendation table (on), or go back to the selected leg (off)."""
        if self.why_button.isChecked() != on:
            self.why_button.setChecked(on)  # comes back here through `toggled`
            return
        if not on:
            selected = self.diagram.selected_leg
            return self.show_leg(selected) if selected is not None else self._show_overview()
        e, title = html.escape, _("Why these grades?")
        heads = [
            (_("Leg"), None),
            (_("Recommended"), Grade.GREEN),
            (_("Acceptable"), Grade.AMBER),
            (_("Bad"), Grade.RED),
            (_("Why"), None),
        ]
        head = "".join(
            f"<th style='color:{grade_colour(g).name()}'>{e(t)}</th>" if g else f"<th>{e(t)}</th>"
            for t, g in heads
        )
        body = "".join(
            f"<tr><td><b>{e(r.leg)}</b><br>{e(r.path)}</td><td>{e(r.recommended)}</td>"
            f"<td>{e(r.acceptable)}</td><td>{e(r.bad)}</td><td>{e(r.why)}</td></tr>"
            for r in grade_text.why_rows()
        )
        self.details.setHtml(
            f"<h3>{e(title)}</h3>"
            f"<table border='1' cellspacing='0' cellpadding='4' width='100%'>"
            f"<tr>{head}</tr>{body}</table>"
            + "".join(f"<p>{e(n)}</p>" for n in grade_text.why_notes())
        )

    def export_png(self, path: str | Path | None = None, scale: float = 2) -> Path | None:
        """Write the diagram as PNG to `path`, or ask where (None when the user cancels)."""
        path = path or self._ask_path(_("PNG image (*.png)"), ".png")
        return self.diagram.render_png(path, scale) if path else None

    def export_svg(self, path: str | Path | None = None) -> Path | None:
        path = path or self._ask_path(_("SVG image (*.svg)"), ".svg")
        return self.diagram.render_svg(path) if path else None

    def _export(self, export: Callable[[], Path | None]) -> None:
        try:
            export()
        except OSError as exc:
            log.warning("exporting the hop diagram failed", exc_info=exc)
            message = _("The diagram could not be saved: {reason}. Choose another folder.")
            QMessageBox.warning(self, _("Export failed"), message.format(reason=error_text(exc)))

    def _ask_path(self, filter_: str, suffix: str) -> str | None:
        title = _("Export the diagram")
        suggested = suggested_export_path(self._trace, suffix)
        name, _filter = QFileDialog.getSaveFileName(self, title, suggested, filter_)
        if name and not name.endswith(suffix):
            name += suffix
        return name or None
