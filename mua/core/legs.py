"""The journey of one message: `Leg`s between RFC 5598 roles, gathered in a `Trace`.

The enums a leg is made of (`Role`, `Protocol`, `Source`, `Grade`, ...) live in
`mua.core.leg_types` and are imported here, so `from mua.core.legs import Grade` still works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from mua.core.grade import grade_leg
from mua.core.i18n import text_from_json, text_to_json
from mua.core.leg_types import Endpoint, Grade, LegKind, Outcome, Protocol, Role, Source, leg_kind
from mua.core.tls_facts import TlsFacts

if TYPE_CHECKING:
    from mua.core.content import ContentVerdict

__all__ = [  # the value types are re-exported: a leg's users import them from here
    "Endpoint",
    "Grade",
    "Leg",
    "LegKind",
    "Outcome",
    "Protocol",
    "Role",
    "Source",
    "Trace",
    "TraceStatus",
    "leg_from_json",
]


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
        return leg_kind(self.from_.role, self.to.role)

    @property
    def grade(self) -> Grade:
        return grade_leg(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> Leg:
        return leg_from_json(data)

    def to_json(self, index: int) -> dict[str, Any]:
        """The contract's leg (docs/design.md#trace); `outcome` is added only to a refused
        leg, so every leg that carried the message keeps exactly the documented keys; `with`
        and `header` only on a leg read from a Received field (`header` set), so a person can
        check it; `auth` on the client's own legs (whether a password or a token crossed them)."""
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
