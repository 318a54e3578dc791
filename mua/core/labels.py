"""The words a person reads for the enums of a journey: grades, sources, statuses.

The enums' values are tokens (JSON, the cache, scripts) and stay English; these labels are
what the CLI's table and the GUI show, in the current language.
"""

from __future__ import annotations

from mua.core.i18n import N_, _
from mua.core.legs import Grade, Protocol, Source, TraceStatus

_GRADES = {
    Grade.GREEN: N_("green"),
    Grade.AMBER: N_("amber"),
    Grade.RED: N_("red"),
    Grade.INTERNAL: N_("internal"),
    Grade.UNKNOWN: N_("unknown"),
}
_SOURCES = {
    Source.OBSERVED: N_("observed"),
    Source.RECORDED: N_("recorded"),
    Source.CLAIMED: N_("claimed"),
}
_STATUSES = {
    TraceStatus.DELIVERED: N_("delivered"),
    TraceStatus.DEFERRED: N_("deferred"),
    TraceStatus.BOUNCED: N_("bounced"),
    TraceStatus.PARSED: N_("parsed"),
}


def protocol_label(protocol: Protocol) -> str:
    """Protocol names are the protocols' own (SMTP, IMAP...); only "internal" is a word."""
    return _("internal") if protocol is Protocol.INTERNAL else protocol.value


def grade_label(grade: Grade) -> str:
    return _(_GRADES[grade])


def source_label(source: Source) -> str:
    return _(_SOURCES[source])


def status_label(status: TraceStatus) -> str:
    return _(_STATUSES[status])
