"""A trace as text for an 80-column terminal, coloured by grade when stdout is a terminal.

Each leg ends with what its grade means (`mua.core.grade_text.explain`), the sentence the
journey panel shows for it in the GUI.
"""

from __future__ import annotations

import os
import sys
import textwrap

from mua.core.grade_text import explain
from mua.core.i18n import _, translated
from mua.core.labels import grade_label, protocol_label, source_label, status_label
from mua.core.legs import Grade, Leg, Protocol, Trace

WIDTH = 80
_COLOURS = {
    Grade.GREEN: "\033[32m",
    Grade.AMBER: "\033[33m",
    Grade.RED: "\033[31m",
    Grade.INTERNAL: "\033[36m",
    Grade.UNKNOWN: "\033[35m",
}
_RESET = "\033[0m"


def use_colour() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


def render_trace(trace: Trace, *, title: str | None = None, colour: bool | None = None) -> str:
    colour = use_colour() if colour is None else colour
    lines = []
    if title:
        lines += textwrap.wrap(title, WIDTH)
    status = _("Status: {status}   Subject: {subject}").format(
        status=status_label(trace.status), subject=trace.subject or "-"
    )
    lines.append(status[:WIDTH])
    lines.append(f"Message-ID: {trace.message_id or '-'}"[:WIDTH])
    lines.append("")
    for index, leg in enumerate(trace.legs, start=1):
        lines += _leg_lines(index, leg, colour)
    return "\n".join(lines)


def _leg_lines(index: int, leg: Leg, colour: bool) -> list[str]:
    grade = leg.grade
    label = f"{grade_label(grade).upper():<8}"
    if colour:
        label = f"{_COLOURS[grade]}{label}{_RESET}"
    roles = f"{leg.from_.role.value} -> {leg.to.role.value}"
    port = ""
    if leg.port_role is not None:
        port = _("port {port}").format(port=leg.port_role)
        if leg.port_actual is not None and leg.port_actual != leg.port_role:
            port += f" ({leg.port_actual})"
    source = source_label(leg.source)
    head = f"{index:>2}  {roles:<12} {protocol_label(leg.protocol):<16} {port:<18} {label} {source}"
    hosts = f"{leg.from_.host or '?'} -> {leg.to.host or '?'}"
    tls = translated(leg.tls.summary())
    if leg.protocol is Protocol.INTERNAL:
        tls = _("no network: inside one server")
    elif leg.tls.cipher:
        tls = tls.replace(leg.tls.version or "", f"{leg.tls.version} {leg.tls.cipher}", 1)
    if leg.refused:
        tls = _("REFUSED, nothing of the message sent (the attempt: {tls})").format(tls=tls)
    body = [f"    {hosts}; {tls}"]
    for text in (translated(leg.note), explain(leg)):
        body += textwrap.wrap(text, WIDTH, initial_indent="    ", subsequent_indent="    ")
    return [head, *(textwrap.wrap(body[0], WIDTH, subsequent_indent="      ")), *body[1:], ""]
