"""The painted journey diagram for screen readers and keyboards.

`HopDiagram` paints its legs, so assistive technology sees one blank widget. Here it gets a
`QAccessibleInterface` of its own (installed with `QAccessible.installFactory`): a list
(`DiagramAccessible`) whose items are the legs (`LegAccessible`), each named with its grade,
protocol, port, TLS facts and source in words (`leg_name`), so AT-SPI, UIA or VoiceOver read
what the colours and line styles show.

`LegKeys` is the keyboard half, mixed into the diagram: Tab focuses it, the arrow keys (and
Home/End) move a focus ring from leg to leg, Enter or Space opens the focused leg's details
as a click does; each move is announced as an accessibility focus event so a screen reader
follows.

PySide6 keeps every interface its factory returned alive for the life of the process; the
leg interfaces hang off the diagram's and check that their widget still exists.
"""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, cast

import shiboken6
from PySide6.QtCore import QObject, QPoint, QRect, QRectF, Qt
from PySide6.QtGui import (
    QAccessible,
    QAccessibleEvent,
    QAccessibleInterface,
    QFocusEvent,
    QKeyEvent,
    QWindow,
)
from PySide6.QtWidgets import QAccessibleWidget, QScrollArea, QWidget

from mua.core.grade_text import explain
from mua.core.i18n import N_, _, translated
from mua.core.labels import grade_label, protocol_label
from mua.core.leg_text import summary
from mua.core.legs import Grade, Leg, Source, Trace
from mua.core.tls_facts import TlsMode, VerifiedBy
from mua.gui.theme import GRADE_GLYPHS, GRADE_LABELS

if TYPE_CHECKING:
    from PySide6.QtCore import QLineF, SignalInstance

    from mua.gui.hop_diagram import HopDiagram
    from mua.gui.hop_plan import HopDiagramPlan


_VERIFIERS = {
    VerifiedBy.PKI: N_("verified by a certificate authority"),
    VerifiedBy.DANE: N_("verified by DANE"),
    VerifiedBy.MTA_STS: N_("verified, required by MTA-STS"),
}
_SOURCES = {
    Source.OBSERVED: N_("observed"),
    Source.RECORDED: N_("recorded by your provider"),
    Source.CLAIMED: N_("claimed upstream, unverifiable"),
}


def _tls_words(leg: Leg) -> list[str]:
    tls = leg.tls
    if leg.refused:
        return [_("refused by a policy, nothing sent")]
    if tls.encrypted is None:
        return [_("inside one server") if leg.grade is Grade.INTERNAL else _("TLS unknown")]
    if not tls.encrypted:
        return [_("cleartext, not encrypted")]
    mode = {TlsMode.IMPLICIT: _("implicit TLS"), TlsMode.STARTTLS: "STARTTLS"}.get(tls.mode, "")
    words = [" ".join(w for w in (_("encrypted"), tls.version or "", mode) if w)]
    if tls.verified:
        by = tls.verified_by
        words.append(_(_VERIFIERS[by]) if by else _("verified"))
    else:
        unknown = tls.verified is None
        words.append(_("verification unknown") if unknown else _("certificate not verified"))
    return words


def grade_words(grade: Grade) -> str:
    """'✓ Recommended (green)': the grade in words and its glyph, never its colour alone."""
    return _("{glyph} {label} ({grade})").format(
        glyph=GRADE_GLYPHS[grade], label=_(GRADE_LABELS[grade]), grade=grade_label(grade)
    )


def leg_name(trace: Trace, index: int) -> str:
    """'Leg 3 of 6: MTA to MX, SMTP, port 25, encrypted TLSv1.3 STARTTLS, verified by DANE,
    ✓ Recommended (green), observed' — what a screen reader says for one arrow."""
    leg = trace.legs[index]
    head = _("Leg {number} of {count}: {sender} to {receiver}").format(
        number=index + 1, count=len(trace.legs), sender=leg.from_.role, receiver=leg.to.role
    )
    port = leg.port_role if leg.port_role is not None else leg.port_actual
    parts = [head, protocol_label(leg.protocol)]
    if port is not None:
        parts.append(_("port {port}").format(port=port))
    parts += _tls_words(leg)
    parts += [grade_words(leg.grade), _(_SOURCES[leg.source])]
    return ", ".join(parts)


def leg_description(trace: Trace, index: int) -> str:
    """The hosts, then the leg's note: what the tooltip and details pane add to the name."""
    leg = trace.legs[index]
    ends = [f"{e.role.value} {e.host}" if e.host else e.role.value for e in (leg.from_, leg.to)]
    text = _("From {sender} to {receiver}.").format(sender=ends[0], receiver=ends[1])
    return " ".join(t for t in (text, translated(leg.note), explain(leg)) if t)


def _alive(obj: QObject | None) -> bool:
    return obj is not None and shiboken6.isValid(obj)


class LegAccessible(QAccessibleInterface):
    """One leg of the diagram: a list item with no object of its own."""

    def __init__(self, diagram: HopDiagram, index: int) -> None:
        super().__init__()
        self._diagram = diagram
        self._index = index

    def _trace(self) -> Trace | None:
        return self._diagram.trace() if _alive(self._diagram) else None

    def isValid(self) -> bool:
        trace = self._trace()
        return trace is not None and self._index < len(trace.legs)

    def object(self) -> QObject | None:  # type: ignore[override]  # Qt returns nullptr here; PySide6's stub says never None
        return None

    def window(self) -> QWindow | None:  # type: ignore[override]  # Qt returns nullptr here; PySide6's stub says never None
        parent = self.parent()
        return parent.window() if parent is not None else None

    def parent(self) -> QAccessibleInterface | None:  # type: ignore[override]  # Qt returns nullptr here; PySide6's stub says never None
        return QAccessible.queryAccessibleInterface(self._diagram) if self.isValid() else None

    def child(self, index: int) -> QAccessibleInterface | None:  # type: ignore[override]  # Qt returns nullptr here; PySide6's stub says never None
        return None

    def childCount(self) -> int:
        return 0

    def indexOfChild(self, child: QAccessibleInterface) -> int:
        return -1

    def childAt(self, x: int, y: int) -> QAccessibleInterface | None:  # type: ignore[override]  # Qt returns nullptr here; PySide6's stub says never None
        return None

    def relations(self, match: builtins.object = None) -> list:
        return []

    def text(self, kind: QAccessible.Text) -> str:
        trace = self._trace()
        if trace is None or self._index >= len(trace.legs):
            return ""
        if kind == QAccessible.Text.Name:
            return leg_name(trace, self._index)
        if kind == QAccessible.Text.Description:
            return leg_description(trace, self._index)
        if kind == QAccessible.Text.Help:
            return _("Press Enter to show this leg's details.")
        return ""

    def setText(self, kind: QAccessible.Text, text: str) -> None:
        pass  # the legs come from the trace; nobody renames them

    def rect(self) -> QRect:
        """The leg's arrow and label, in screen coordinates."""
        if not self.isValid():
            return QRect()
        d = self._diagram
        area = d.leg_rect(self._index).toAlignedRect()
        return QRect(d.mapToGlobal(area.topLeft()), area.size())

    def role(self) -> QAccessible.Role:
        return QAccessible.Role.ListItem

    def state(self) -> QAccessible.State:
        state = QAccessible.State()
        if not self.isValid():
            state.invalid = True
            return state
        d = self._diagram
        state.focusable = state.selectable = True
        state.focused = d.hasFocus() and d.current_leg == self._index
        state.selected = d.selected_leg == self._index
        state.invisible = not d.isVisible()
        return state


class DiagramAccessible(QAccessibleWidget):
    """The diagram as a list of its legs."""

    def __init__(self, diagram: HopDiagram) -> None:
        super().__init__(diagram, QAccessible.Role.List, "")
        self._diagram = diagram
        self._legs: list[LegAccessible] = []

    def _count(self) -> int:
        trace = self._diagram.trace() if _alive(self._diagram) else None
        return len(trace.legs) if trace else 0

    def text(self, kind: QAccessible.Text) -> str:
        if not _alive(self._diagram):
            return ""
        if kind == QAccessible.Text.Name:
            return self._diagram.accessibleName() or _("How this message travelled")
        if kind == QAccessible.Text.Description:
            trace = self._diagram.trace()
            if trace is None:
                return _("No message selected.")
            return summary(trace) + " " + _("Use the arrow keys to move between legs.")
        return super().text(kind)

    def childCount(self) -> int:
        return self._count()

    def child(self, index: int) -> QAccessibleInterface | None:  # type: ignore[override]  # Qt returns nullptr here; PySide6's stub says never None
        if not 0 <= index < self._count():
            return None
        while len(self._legs) <= index:  # reused across traces: Qt caches them by address
            self._legs.append(LegAccessible(self._diagram, len(self._legs)))
        return self._legs[index]

    def indexOfChild(self, child: QAccessibleInterface) -> int:
        for i, leg in enumerate(self._legs[: self._count()]):
            if leg is child:
                return i
        return -1

    def childAt(self, x: int, y: int) -> QAccessibleInterface | None:  # type: ignore[override]  # Qt returns nullptr here; PySide6's stub says never None
        if not _alive(self._diagram):
            return None
        at = self._diagram.mapFromGlobal(QPoint(x, y)).toPointF()
        legs = range(self._count())
        index = next((i for i in legs if self._diagram.leg_rect(i).contains(at)), None)
        return self.child(index) if index is not None else None

    def focusChild(self) -> QAccessibleInterface | None:  # type: ignore[override]  # Qt returns nullptr here; PySide6's stub says never None
        d = self._diagram
        if _alive(d) and d.hasFocus() and d.current_leg is not None:
            return self.child(d.current_leg)
        return None


_diagram_class: type[QWidget] | None = None  # HopDiagram, once installed


def _factory(key: str, obj: QObject) -> QAccessibleInterface | None:
    if _diagram_class is None or not isinstance(obj, _diagram_class):
        return None
    return DiagramAccessible(cast("HopDiagram", obj))


def install(diagram_class: type[QWidget]) -> None:
    """Register the diagram's interface with Qt for widgets of `diagram_class` (`HopDiagram`,
    which passes itself, so this module does not import it back); once, before the first
    diagram is asked."""
    global _diagram_class
    if _diagram_class is None:
        _diagram_class = diagram_class
        QAccessible.installFactory(_factory)


def _announce(diagram: QWidget, kind: QAccessible.Event, index: int | None = None) -> None:
    event = QAccessibleEvent(diagram, kind)
    if index is not None:
        event.setChild(index)
    QAccessible.updateAccessibility(event)


def announce_legs(diagram: QWidget) -> None:
    """A new journey: screen readers re-read the list's description and its items."""
    if QAccessible.isActive():
        _announce(diagram, QAccessible.Event.DescriptionChanged)
        _announce(diagram, QAccessible.Event.ObjectReorder)


if TYPE_CHECKING:  # the mixin is checked as the widget it is mixed into
    _KeysBase = QWidget
else:
    _KeysBase = object


class LegKeys(_KeysBase):
    """Keyboard for `HopDiagram`: a focus ring moved by the arrow keys, Enter opens the leg.

    The focused leg (`current_leg`) is separate from the selected one (whose details show):
    moving through the legs does not replace the details pane until Enter or Space."""

    _current: int | None = None
    if TYPE_CHECKING:  # what HopDiagram provides
        legClicked: SignalInstance

        @property
        def selected_leg(self) -> int | None: ...

        def model(self) -> HopDiagramPlan: ...
        def arrow_line(self, index: int) -> QLineF: ...
        def label_rect(self, index: int) -> QRectF: ...
        def set_selected_leg(self, index: int | None) -> None: ...

    @property
    def current_leg(self) -> int | None:
        count = len(self.model().arrows)
        return self._current if self._current is not None and self._current < count else None

    def set_current_leg(self, index: int | None) -> None:
        count = len(self.model().arrows)
        self._current = min(max(index, 0), count - 1) if index is not None and count else None
        self.update()
        if self._current is None:
            return
        area = self.leg_rect(self._current)
        viewport = self.parentWidget()  # a scroll area's viewport holds the diagram
        scroll = viewport.parentWidget() if viewport is not None else None
        if isinstance(scroll, QScrollArea):
            margin = int(area.width() / 2 + 16)
            scroll.ensureVisible(int(area.center().x()), int(area.center().y()), margin, 0)
        if self.hasFocus():
            _announce(self, QAccessible.Event.Focus, self._current)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        count, key = len(self.model().arrows), Qt.Key(event.key())
        current = self.current_leg
        moves = {
            Qt.Key.Key_Left: -1,
            Qt.Key.Key_Up: -1,
            Qt.Key.Key_Right: 1,
            Qt.Key.Key_Down: 1,
        }
        if not count:
            return QWidget.keyPressEvent(self, event)
        if key in moves:
            start = current if current is not None else (-1 if moves[key] > 0 else count)
            self.set_current_leg(start + moves[key])
        elif key in (Qt.Key.Key_Home, Qt.Key.Key_End):
            self.set_current_leg(0 if key == Qt.Key.Key_Home else count - 1)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            index = current if current is not None else 0
            self.set_selected_leg(index)
            _announce(self, QAccessible.Event.Selection, index)
            self.legClicked.emit(index)
        else:
            return QWidget.keyPressEvent(self, event)
        event.accept()

    def focusInEvent(self, event: QFocusEvent) -> None:
        QWidget.focusInEvent(self, event)
        if self.model().arrows:
            chosen = self.current_leg if self.current_leg is not None else self.selected_leg
            self.set_current_leg(chosen if chosen is not None else 0)

    def focusOutEvent(self, event: QFocusEvent) -> None:
        QWidget.focusOutEvent(self, event)
        self.update()  # the focus ring goes

    def leg_rect(self, index: int) -> QRectF:
        """The leg's arrow band and label together, in widget coordinates."""
        line = self.arrow_line(index)
        band = QRectF(line.p1().x(), line.p1().y() - 14, line.dx(), 28)
        return band.united(self.label_rect(index))
