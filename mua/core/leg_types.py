"""The small value types a leg is made of: roles, protocols, sources, grades, outcomes, kinds.

Apart from `mua.core.legs` (the `Leg` and the `Trace`) so that grading (`mua.core.grade`)
and content authenticity (`mua.core.content`) use them without importing the module that
imports them: `legs` imports `grade`, never the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """RFC 5598 section 2 roles."""

    MUA = "MUA"
    MSA = "MSA"
    MTA = "MTA"
    MX = "MX"
    MDA = "MDA"
    MS = "MS"


class Protocol(StrEnum):
    SUBMISSION = "SMTP-submission"
    SMTP = "SMTP"
    LMTP = "LMTP"
    INTERNAL = "internal"
    IMAP = "IMAP"
    POP3 = "POP3"


class Source(StrEnum):
    """How much a leg's facts are worth (docs/design.md#trust-sources explains the three)."""

    OBSERVED = "observed"  # this client or the embedded stack saw it
    RECORDED = "recorded"  # a Received header written inside the user's own provider
    CLAIMED = "claimed"  # a Received header from upstream: anyone can write it


class Grade(StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"
    INTERNAL = "internal"
    UNKNOWN = "unknown"


class Outcome(StrEnum):
    """Whether the message crossed the leg."""

    SENT = "sent"
    # A policy (DANE, MTA-STS, REQUIRETLS) stopped the session before MAIL FROM: nothing of the
    # message crossed. The message stays queued, or is returned; the note says which.
    REFUSED = "refused"


class LegKind(StrEnum):
    """Which row of the recommendation table a leg belongs to."""

    SUBMISSION = "submission"  # MUA -> MSA
    HANDOFF = "handoff"  # MSA -> MTA
    RELAY = "relay"  # MTA -> MX
    DELIVERY = "delivery"  # MX -> MDA -> MS
    RETRIEVAL = "retrieval"  # MS -> MUA
    OTHER = "other"


_KINDS: dict[tuple[Role, Role], LegKind] = {
    (Role.MUA, Role.MSA): LegKind.SUBMISSION,
    (Role.MSA, Role.MTA): LegKind.HANDOFF,
    (Role.MTA, Role.MX): LegKind.RELAY,
    (Role.MTA, Role.MTA): LegKind.RELAY,
    (Role.MX, Role.MX): LegKind.RELAY,
    (Role.MX, Role.MDA): LegKind.DELIVERY,
    (Role.MDA, Role.MS): LegKind.DELIVERY,
    (Role.MX, Role.MS): LegKind.DELIVERY,
    (Role.MS, Role.MUA): LegKind.RETRIEVAL,
}


def leg_kind(from_role: Role, to_role: Role) -> LegKind:
    """The row of the recommendation table for a leg between these two roles."""
    return _KINDS.get((from_role, to_role), LegKind.OTHER)


@dataclass(frozen=True)
class Endpoint:
    role: Role
    host: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role.value, "host": self.host}
