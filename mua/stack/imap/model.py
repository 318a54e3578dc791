"""What the IMAP server, its store and its protocol helpers share about one message."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# RFC 3501 section 2.3.2 system flags (\Recent is session state, never stored).
SEEN, ANSWERED, FLAGGED, DELETED, DRAFT, RECENT = (
    "\\Seen",
    "\\Answered",
    "\\Flagged",
    "\\Deleted",
    "\\Draft",
    "\\Recent",
)
SYSTEM_FLAGS = (SEEN, ANSWERED, FLAGGED, DELETED, DRAFT)


@dataclass(frozen=True)
class MessageInfo:
    """One message of a folder as the index knows it; enough to answer FETCH of ENVELOPE,
    FLAGS, RFC822.SIZE, INTERNALDATE, UID, BODYSTRUCTURE and most SEARCH keys without
    reading the message file."""

    uid: int
    flags: frozenset[str]  # system flags spelled as above, plus keywords as given
    size: int  # RFC822.SIZE: octets in the CRLF (wire) form
    internaldate: float  # seconds since the epoch
    modseq: int = 1  # RFC 7162 CONDSTORE: bumped on every flag change
    # Produced by mua.stack.imap.render.summarize(message_bytes) and stored as is:
    # {"envelope": str, "bodystructure": str, "body": str, "header": str (the raw header
    #  section, CRLF), "sent": float | None (the Date: header as epoch seconds)}
    summary: dict[str, Any] = field(default_factory=dict, compare=False)
