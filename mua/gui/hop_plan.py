"""The hop diagram of a `Trace`, without Qt: role boxes, arrows, their labels and geometry.

One box per role in journey order; leg i+1 starts at leg i's box when its `from` role is the
role leg i arrived at, otherwise a break (a step nobody recorded) opens a new box. Each arrow
carries its grade (the colour), a line style for its source (solid observed, dashed recorded,
dotted claimed) and the lines of its label, in the current language. `HopDiagramPlan` is
what the diagram shows; its `layout` says where, as a `Layout` in device-independent pixels
(`hop_diagram.HopDiagram` paints it). A leg's facts in words are `mua.core.leg_text`, what
a grade means and the recommendation table `mua.core.grade_text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from mua.core.i18n import _
from mua.core.labels import protocol_label, source_label
from mua.core.leg_text import port_lines, tls_text, verification_text
from mua.core.legs import Grade, Leg, Role, Source, Trace


class LineStyle(StrEnum):
    SOLID = "solid"
    DASHED = "dashed"
    DOTTED = "dotted"


SOURCE_STYLES = {
    Source.OBSERVED: LineStyle.SOLID,
    Source.RECORDED: LineStyle.DASHED,
    Source.CLAIMED: LineStyle.DOTTED,
}


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
class HopDiagramPlan:
    """What the diagram shows: a box per role visited, an arrow per leg (not a Qt model)."""

    boxes: tuple[Box, ...]
    arrows: tuple[Arrow, ...]

    @classmethod
    def from_trace(cls, trace: Trace | None) -> HopDiagramPlan:
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
            past = max_width is not None and x + m.box_w + step + m.box_w + m.margin > max_width
            if i and in_row >= 2 and past:
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
