"""The ports-and-encryption table (issue 16): for each leg of a message's trip, the options
people meet, each with the demo scenario that shows it and the grade mua gives that leg.

Rows are legs (`LegKind`), cells are options; a cell's `grade` is what mua grades the leg
in its scenario (the worst of the legs of that kind, so several relay hops show their
weakest), checked against a run of every scenario by tests/test_demo_all.py. The desktop
app draws it (mua/gui/ports_table_window.py); README.md prints it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from mua.core.i18n import N_
from mua.core.legs import Grade, Leg, LegKind

# From worst to best: what a row shows when a scenario has several legs of its kind.
_WORST_FIRST = (Grade.RED, Grade.UNKNOWN, Grade.AMBER, Grade.GREEN, Grade.INTERNAL)


@dataclass(frozen=True)
class TableCell:
    option: str  # marked with N_: translate with _() where shown
    scenario: str  # a name of mua.stack.demo.SCENARIOS
    grade: Grade


@dataclass(frozen=True)
class TableRow:
    kind: LegKind
    title: str  # marked with N_
    cells: tuple[TableCell, ...]


PORTS_TABLE = (
    TableRow(
        LegKind.SUBMISSION,
        N_("MUA \u2192 MSA (submission)"),
        (
            TableCell(N_("465, implicit TLS"), "modern", Grade.GREEN),
            TableCell(N_("587, STARTTLS"), "starttls", Grade.AMBER),
            TableCell(N_("587 without STARTTLS"), "submission-clear", Grade.RED),
            TableCell(N_("25, legacy, in clear"), "legacy-25", Grade.RED),
        ),
    ),
    TableRow(
        LegKind.HANDOFF,
        N_("MSA \u2192 MTA (handoff)"),
        (
            TableCell(N_("same server (internal)"), "modern", Grade.INTERNAL),
            TableCell(N_("smarthost on 587, STARTTLS and AUTH"), "smarthost-587", Grade.AMBER),
            TableCell(N_("smarthost on 25, STARTTLS"), "smarthost-25", Grade.AMBER),
            TableCell(N_("smarthost on 25, in clear"), "smarthost-clear", Grade.RED),
        ),
    ),
    TableRow(
        LegKind.RELAY,
        N_("MTA \u2192 MX (relay)"),
        (
            TableCell(N_("STARTTLS enforced by DANE"), "modern", Grade.GREEN),
            TableCell(N_("STARTTLS enforced by MTA-STS"), "mta-sts", Grade.GREEN),
            TableCell(N_("opportunistic STARTTLS"), "opportunistic", Grade.AMBER),
            TableCell(N_("in clear"), "plaintext", Grade.RED),
            TableCell(N_("several hops, one in clear"), "relay-hops", Grade.RED),
        ),
    ),
    TableRow(
        LegKind.DELIVERY,
        N_("MX \u2192 MDA \u2192 MS (delivery)"),
        (
            TableCell(N_("same host (internal)"), "modern", Grade.INTERNAL),
            TableCell(N_("LMTP over TLS to another host"), "lmtp-tls", Grade.AMBER),
            TableCell(N_("LMTP in clear to another host"), "lmtp-clear", Grade.RED),
        ),
    ),
    TableRow(
        LegKind.RETRIEVAL,
        N_("MS \u2192 MUA (retrieval)"),
        (
            TableCell(N_("IMAP 993, implicit TLS"), "modern", Grade.GREEN),
            TableCell(N_("IMAP 143, STARTTLS"), "starttls", Grade.AMBER),
            TableCell(N_("IMAP 143 in clear"), "imap-clear", Grade.RED),
            TableCell(N_("POP3 995, implicit TLS"), "pop3-995", Grade.GREEN),
            TableCell(N_("POP3 110, STLS"), "pop3-stls", Grade.AMBER),
            TableCell(N_("POP3 110 in clear"), "pop3-clear", Grade.RED),
        ),
    ),
)


def worst_grade(legs: Iterable[Leg], kind: LegKind) -> Grade | None:
    """The weakest grade among `legs` of `kind`; None when there is none."""
    grades = {leg.grade for leg in legs if leg.kind is kind}
    return next((g for g in _WORST_FIRST if g in grades), None)
