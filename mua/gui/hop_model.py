"""The hop diagram of a `Trace`, without Qt: role boxes, arrows, their labels and geometry.

One box per role in journey order; leg i+1 starts at leg i's box when its `from` role is the
role leg i arrived at, otherwise a break (a step nobody recorded) opens a new box. Each arrow
carries its grade (the colour), a line style for its source (solid observed, dashed recorded,
dotted claimed) and the lines of its label, in the current language. What a grade means
(`explain`) and the recommendation table (`WHY_ROWS`) live in hop_explain.py.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum

from mua.core.i18n import N_, _, ngettext, translated
from mua.core.labels import grade_label, protocol_label, source_label
from mua.core.legs import Grade, Leg, LegKind, Role, Source, Trace
from mua.core.tls import TlsMode
from mua.gui.hop_explain import WHY_NOTES as WHY_NOTES
from mua.gui.hop_explain import WHY_ROWS as WHY_ROWS
from mua.gui.hop_explain import WhyRow as WhyRow
from mua.gui.hop_explain import explain as explain
from mua.gui.hop_explain import source_meaning as source_meaning
from mua.gui.hop_explain import why_notes as why_notes
from mua.gui.hop_explain import why_rows as why_rows


class LineStyle(StrEnum):
    SOLID = "solid"
    DASHED = "dashed"
    DOTTED = "dotted"


SOURCE_STYLES = {
    Source.OBSERVED: LineStyle.SOLID,
    Source.RECORDED: LineStyle.DASHED,
    Source.CLAIMED: LineStyle.DOTTED,
}
GRADE_ORDER = (Grade.GREEN, Grade.AMBER, Grade.RED, Grade.INTERNAL, Grade.UNKNOWN)


@dataclass(frozen=True)
class Box:
    role: Role
    hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class Arrow:
    index: int  # the leg's position in trace.legs (0-based)
    leg: Leg
    start: int  # box indexes
    end: int
    label: tuple[str, ...]

    @property
    def grade(self) -> Grade:
        return self.leg.grade

    @property
    def style(self) -> LineStyle:
        return SOURCE_STYLES[self.leg.source]

    @property
    def refused(self) -> bool:
        """A policy stopped this leg before the message was sent: drawn stopping short."""
        return self.leg.refused


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    def contains(self, px: float, py: float) -> bool:
        return self.x <= px <= self.x + self.w and self.y <= py <= self.y + self.h


@dataclass(frozen=True)
class Metrics:
    """Sizes in device-independent pixels; the widget derives them from its font."""

    box_w: float = 84
    box_h: float = 54
    gap: float = 52  # between boxes joined by an arrow
    break_gap: float = 28  # between boxes with no recorded leg between them
    margin: float = 12
    label_gap: float = 8
    line_h: float = 15
    label_lines: int = 6  # the longest label: protocol, two of ports, TLS, verified, source


@dataclass(frozen=True)
class Layout:
    boxes: tuple[Rect, ...]
    arrows: tuple[tuple[float, float, float], ...]  # (x1, x2, y) per leg
    labels: tuple[Rect, ...]  # per leg
    breaks: tuple[tuple[float, float], ...]  # (x_mid, y) of each unrecorded step
    width: float
    height: float  # bottom of the labels plus a margin; the legend goes below
    copies: tuple[tuple[int, Rect], ...] = ()  # (box, where) a box repeats to start a row

    def leg_at(self, px: float, py: float) -> int | None:
        """The leg whose arrow band or label is at (px, py), or None."""
        for i, ((x1, x2, y), label) in enumerate(zip(self.arrows, self.labels, strict=True)):
            band = Rect(x1, y - 14, x2 - x1, 28)
            if band.contains(px, py) or label.contains(px, py):
                return i
        return None


@dataclass(frozen=True)
class HopDiagramModel:
    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]

    @classmethod
    def from_trace(cls, trace: Trace | None) -> HopDiagramModel:
        boxes: list[Box] = []
        arrows: list[Arrow] = []
        for i, leg in enumerate(trace.legs if trace else ()):
            if not boxes or boxes[-1].role is not leg.from_.role:
                boxes.append(Box(leg.from_.role, _hosts(leg.from_.host)))
            else:
                last = boxes[-1]
                boxes[-1] = Box(last.role, _hosts(*last.hosts, leg.from_.host))
            boxes.append(Box(leg.to.role, _hosts(leg.to.host)))
            arrows.append(Arrow(i, leg, len(boxes) - 2, len(boxes) - 1, label_lines(leg)))
        return cls(tuple(boxes), tuple(arrows))

    def is_break(self, box: int) -> bool:
        """True when no leg joins box `box` to the next one."""
        return not any(a.start == box for a in self.arrows) and box + 1 < len(self.boxes)

    def layout(self, m: Metrics, max_width: float | None = None) -> Layout:
        """Boxes left to right; wider than `max_width`, the journey wraps onto another row,
        which starts with a copy of the box the next leg leaves from (`Layout.copies`)."""
        row_h = m.box_h + m.label_gap + m.line_h * m.label_lines + m.margin
        boxes: list[Rect] = []
        copies: list[tuple[int, Rect]] = []
        starts: dict[int, Rect] = {}  # a box whose next leg leaves from its copy
        breaks: list[tuple[float, float]] = []
        x, row, in_row, right = m.margin, 0, 0, 0.0
        for i in range(len(self.boxes)):
            joined = i > 0 and not self.is_break(i - 1)
            step = (m.gap if joined else m.break_gap) if i else 0.0
            wrap = max_width is not None and in_row >= 2
            if i and wrap and x + m.box_w + step + m.box_w + m.margin > max_width:
                row, in_row, x = row + 1, 0, m.margin
                top = m.margin + row * row_h
                if joined:
                    copy = Rect(x, top, m.box_w, m.box_h)
                    copies.append((i - 1, copy))
                    starts[i - 1] = copy
                    x, in_row = x + m.box_w + m.gap, 1
                else:
                    breaks.append((x + m.break_gap / 2, top + m.box_h / 2))
                    x += m.break_gap
            elif i:
                x += m.box_w + step
                if not joined:
                    breaks.append((x - m.break_gap / 2, m.margin + row * row_h + m.box_h / 2))
            boxes.append(Rect(x, m.margin + row * row_h, m.box_w, m.box_h))
            in_row += 1
            right = max(right, x + m.box_w)
        pitch = m.box_w + m.gap
        arrows, labels = [], []
        for a in self.arrows:
            start, end = starts.get(a.start, boxes[a.start]), boxes[a.end]
            x1, x2, y = start.x + m.box_w, end.x, end.y + m.box_h / 2
            arrows.append((x1, x2, y))
            mid, top = (x1 + x2) / 2, end.y + m.box_h + m.label_gap
            labels.append(Rect(mid - pitch / 2 + 3, top, pitch - 6, m.line_h * len(a.label)))
        width = (right + m.margin) if boxes else 2 * m.margin
        height = m.margin + (row + 1) * row_h
        return Layout(
            tuple(boxes), tuple(arrows), tuple(labels), tuple(breaks), width, height, tuple(copies)
        )


def _hosts(*names: str | None) -> tuple[str, ...]:
    seen: list[str] = []
    for name in names:
        if name and name.lower() not in (s.lower() for s in seen):
            seen.append(name)
    return tuple(seen)


def port_lines(leg: Leg) -> list[str]:
    """'port 465', '(here 10465)': the role's standard port, then where the demo world (or
    a test) really listened; never 'a -> b', which reads as client port -> server port.
    Two lines, so that the label stays as narrow as its other lines."""
    role, actual = leg.port_role, leg.port_actual
    if role is not None and actual is not None and role != actual:
        return [_("port {port}").format(port=role), _("(here {port})").format(port=actual)]
    if role is not None or actual is not None:
        return [_("port {port}").format(port=role if role is not None else actual)]
    return []


def tls_text(leg: Leg) -> str:
    tls = leg.tls
    if tls.encrypted is None:
        return _("same server") if leg.grade is Grade.INTERNAL else _("TLS unknown")
    if not tls.encrypted:
        return _("cleartext")
    mode = {TlsMode.IMPLICIT: _("implicit"), TlsMode.STARTTLS: "STARTTLS"}.get(tls.mode, "")
    return f"{tls.version or 'TLS'} {mode}".strip()


def verification_text(leg: Leg) -> str | None:
    tls = leg.tls
    if not tls.encrypted:
        return None
    if tls.verified:
        by = tls.verified_by
        return _("verified ({by})").format(by=by.value if by else "?")
    return _("not verified") if tls.verified is False else _("verification unknown")


def label_lines(leg: Leg) -> tuple[str, ...]:
    """protocol; ports; TLS version and mode; verification; the source unless observed.
    A refused leg says so instead of the TLS of a session that carried nothing."""
    lines: list[str | None] = [protocol_label(leg.protocol), *port_lines(leg)]
    if leg.refused:
        lines += [_("refused"), _("nothing sent")]
    else:
        lines += [tls_text(leg), verification_text(leg)]
    if leg.source is not Source.OBSERVED:
        lines.append(source_label(leg.source))
    return tuple(line for line in lines if line)


# -- details of one leg -------------------------------------------------------------------

_MODES = {
    TlsMode.IMPLICIT: N_("implicit TLS"),
    TlsMode.STARTTLS: "STARTTLS",
    TlsMode.NONE: N_("none"),
    TlsMode.UNKNOWN: N_("unknown"),
}
_KINDS = {
    LegKind.SUBMISSION: N_("submission"),
    LegKind.HANDOFF: N_("handoff"),
    LegKind.RELAY: N_("relay"),
    LegKind.DELIVERY: N_("delivery"),
    LegKind.RETRIEVAL: N_("retrieval"),
    LegKind.OTHER: N_("other"),
}
_KNOWN_TLS = {"encrypted", "mode", "version", "cipher", "bits", "verified", "verified_by"}


def _yes_no(value: bool | None) -> str:
    return _("unknown") if value is None else (_("yes") if value else _("no"))


def _endpoint(role: Role, host: str | None) -> str:
    return f"{role.value} {host}" if host else role.value


def _port(port: int | None, meaning: str) -> str:
    return _("not recorded") if port is None else f"{port} ({meaning})"


def _sign_in(auth: str | None) -> str:
    """Whether a password or a token crossed the client's leg (its SASL mechanism)."""
    if auth in ("XOAUTH2", "OAUTHBEARER"):
        return _("an OAuth2 access token ({mechanism}), no password").format(mechanism=auth)
    if auth:
        return _("your password ({mechanism})").format(mechanism=auth)
    return _("not recorded")


def fact_rows(leg: Leg) -> list[tuple[str, str]]:
    tls = leg.tls
    unknown = _("not recorded")
    rows = [
        (_("From"), _endpoint(leg.from_.role, leg.from_.host)),
        (_("To"), _endpoint(leg.to.role, leg.to.host)),
        (_("Kind"), _(_KINDS[leg.kind])),
        (_("Protocol"), protocol_label(leg.protocol)),
        (_("Role port"), _port(leg.port_role, _("the standard port for this leg"))),
        (_("Actual port"), _port(leg.port_actual, _("where this server listens here"))),
        (_("Encrypted"), _yes_no(tls.encrypted)),
        (_("TLS mode"), _(_MODES[tls.mode])),
        (_("TLS version"), tls.version or unknown),
        (_("Cipher"), tls.cipher or unknown),
        (_("Key bits"), str(tls.bits) if tls.bits is not None else unknown),
        (_("Certificate verified"), _yes_no(tls.verified)),
        (_("Verified by"), tls.verified_by.value if tls.verified_by else unknown),
        (_("Grade"), grade_label(leg.grade)),
        (_("Source"), source_label(leg.source)),
    ]
    if leg.client_leg:  # the client's own connection: what crossed it to sign in
        rows.append((_("Signed in with"), _sign_in(leg.auth)))
    if leg.header is not None:  # a leg read from a Received field: the evidence, as written
        rows.append((_("Keyword (with)"), leg.with_keyword or unknown))
        rows.append((_("Received header"), leg.header))
    return rows


def certificate_rows(leg: Leg) -> list[tuple[str, str]]:
    """Whatever the leg knows of the peer's certificate: peer_name, and any field added later."""
    rows: list[tuple[str, str]] = []
    for f in dataclasses.fields(leg.tls):
        value = getattr(leg.tls, f.name)
        if f.name not in _KNOWN_TLS and value not in (None, "", (), []):
            rows.append((_humanise(f.name), _show(value)))
    extra = getattr(leg, "certificate", None)
    if dataclasses.is_dataclass(extra) and not isinstance(extra, type):
        extra = dataclasses.asdict(extra)
    if isinstance(extra, dict):
        rows += [(_humanise(str(k)), _show(v)) for k, v in extra.items() if v not in (None, "")]
    return rows


def _humanise(name: str) -> str:
    special = {"peer_name": _("Name on certificate")}
    return special.get(name, name.replace("_", " ").capitalize())


def _show(value: object) -> str:
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(str(v) for v in value)
    return str(value)


def leg_title(trace: Trace, index: int) -> str:
    leg = trace.legs[index]
    a, b = _endpoint(leg.from_.role, leg.from_.host), _endpoint(leg.to.role, leg.to.host)
    return _("Leg {number} of {count}: {sender} \u2192 {receiver}").format(
        number=index + 1, count=len(trace.legs), sender=a, receiver=b
    )


def details_text(trace: Trace, index: int) -> str:
    """Everything known about one leg, as plain text."""
    leg = trace.legs[index]
    lines = [leg_title(trace, index), ""]
    lines += [f"{k}: {v}" for k, v in fact_rows(leg)]
    cert = certificate_rows(leg)
    if cert:
        lines += ["", _("Certificate")] + [f"{k}: {v}" for k, v in cert]
    if leg.note:
        lines += ["", _("Note: {note}").format(note=translated(leg.note))]
    lines += [
        "",
        explain(leg),
        "",
        _("Source: {meaning}").format(meaning=source_meaning(leg.source)),
    ]
    return "\n".join(lines)


def summary(trace: Trace) -> str:
    """'6 legs: 3 recommended, 3 inside one server.'"""
    grades = [leg.grade for leg in trace.legs]
    if not grades:
        return _("No legs known.")
    words = {
        Grade.GREEN: lambda n: ngettext("{n} recommended", "{n} recommended", n),
        Grade.AMBER: lambda n: ngettext("{n} acceptable", "{n} acceptable", n),
        Grade.RED: lambda n: ngettext("{n} unprotected", "{n} unprotected", n),
        Grade.INTERNAL: lambda n: ngettext("{n} inside one server", "{n} inside one server", n),
        Grade.UNKNOWN: lambda n: ngettext("{n} unknown", "{n} unknown", n),
    }
    counts = {g: grades.count(g) for g in GRADE_ORDER if g in grades}
    parts = ", ".join(words[g](n).format(n=n) for g, n in counts.items())
    # TRANSLATORS: {grades} is a list such as "3 recommended, 3 inside one server"
    noun = ngettext("{n} leg: {grades}.", "{n} legs: {grades}.", len(grades))
    return noun.format(n=len(grades), grades=parts)
