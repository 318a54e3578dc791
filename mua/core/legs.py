"""The journey of one message: `Leg`s between RFC 5598 roles, gathered in a `Trace`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mua.core.i18n import text_from_json, text_to_json
from mua.core.tls import TlsFacts

if TYPE_CHECKING:  # mua.core.content imports this module (Source)
    from mua.core.content import ContentVerdict


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
    """How much a leg's facts are worth (docs/architecture.md explains the three)."""

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


@dataclass(frozen=True)
class Endpoint:
    role: Role
    host: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role.value, "host": self.host}


@dataclass(frozen=True)
class Leg:
    """One hop: who handed the message to whom, how, and how sure we are of it."""

    from_: Endpoint
    to: Endpoint
    protocol: Protocol
    tls: TlsFacts
    source: Source
    port_role: int | None = None  # the standard port this listener stands for (465, 25, ...)
    port_actual: int | None = None  # the port actually connected to
    note: str = ""
    outcome: Outcome = Outcome.SENT
    with_keyword: str | None = None  # header legs: the `with` keyword as written ("ESMTPSA")
    header: str | None = None  # header legs: the Received field the leg was read from
    # the client's own legs (submission, retrieval): how it signed in, "PLAIN", "LOGIN",
    # "XOAUTH2", "OAUTHBEARER"; None when it did not (or it is not known)
    auth: str | None = None

    @property
    def client_leg(self) -> bool:
        """A leg this client observed on its own connection (it carries `auth`)."""
        return self.source is Source.OBSERVED and self.kind in (
            LegKind.SUBMISSION,
            LegKind.RETRIEVAL,
        )

    @property
    def refused(self) -> bool:
        return self.outcome is Outcome.REFUSED

    @property
    def kind(self) -> LegKind:
        return _KINDS.get((self.from_.role, self.to.role), LegKind.OTHER)

    @property
    def grade(self) -> Grade:
        from mua.core.grade import grade_leg  # grade.py imports this module

        return grade_leg(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Leg:
        return leg_from_json(data)

    def to_json(self, index: int) -> dict[str, Any]:
        """The contract's leg (DESIGN.md); `outcome` is added only to a refused leg, so every
        leg that carried the message keeps exactly the documented keys; `with` and `header`
        only on a leg read from a Received field (`header` set), so a person can check it;
        `auth` on the client's own legs (whether a password or a token crossed them)."""
        data = {
            "index": index,
            "from": self.from_.to_json(),
            "to": self.to.to_json(),
            "protocol": self.protocol.value,
            "port": {"role": self.port_role, "actual": self.port_actual},
            "tls": self.tls.to_json(),
            "grade": self.grade.value,
            "source": self.source.value,
            "note": self.note,
        }
        if self.outcome is not Outcome.SENT:
            data["outcome"] = self.outcome.value
        if self.header is not None:
            data["with"] = self.with_keyword
            data["header"] = self.header
        if self.client_leg:
            data["auth"] = self.auth
        return data

    def to_record(self, index: int) -> dict[str, Any]:
        """`to_json` plus what mua's own stores (the event log, the cache) keep to show the
        note in the user's language later: `note_text` (mua.core.i18n), never in the output."""
        data = self.to_json(index)
        spec = text_to_json(self.note)
        if spec is not None:
            data["note_text"] = spec
        return data


def leg_from_json(data: dict[str, Any]) -> Leg:
    """A leg back from its JSON form (the event log, the cache)."""
    port = data.get("port") or {}
    return Leg(
        Endpoint(Role(data["from"]["role"]), data["from"].get("host")),
        Endpoint(Role(data["to"]["role"]), data["to"].get("host")),
        Protocol(data["protocol"]),
        TlsFacts.from_json(data["tls"]),
        Source(data["source"]),
        port_role=port.get("role"),
        port_actual=port.get("actual"),
        note=text_from_json(data.get("note", ""), data.get("note_text")),
        outcome=Outcome(data.get("outcome", Outcome.SENT.value)),
        with_keyword=data.get("with"),
        header=data.get("header"),
        auth=data.get("auth"),
    )


class TraceStatus(StrEnum):
    DELIVERED = "delivered"
    DEFERRED = "deferred"
    BOUNCED = "bounced"
    PARSED = "parsed"


@dataclass
class Trace:
    """A message's journey, oldest leg first."""

    status: TraceStatus
    legs: list[Leg] = field(default_factory=list)
    subject: str | None = None
    message_id: str | None = None
    # Content authenticity (mua.core.content.ContentVerdict): beside the legs, never
    # part of their grades; None when it was not looked at.
    content: ContentVerdict | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "subject": self.subject,
            "message_id": self.message_id,
            "legs": [leg.to_json(i) for i, leg in enumerate(self.legs, start=1)],
            "content": self.content.to_json() if self.content is not None else None,
        }
