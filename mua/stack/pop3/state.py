"""What a POP3 session's life is bounded by: its limits, and the states of RFC 1939."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


@dataclass(frozen=True)
class Pop3Limits:
    # RFC 2449 section 4: commands up to 255 octets; AUTH PLAIN's response may be longer.
    max_line: int = 4096
    unauthenticated_timeout: float = 60.0
    # RFC 1939 section 3: an autologout timer must be at least 10 minutes.
    idle_timeout: float = 10 * 60.0
    max_bad_commands: int = 20


class Close(Exception):
    """The session ends (QUIT, a failed STLS handshake, a refused token's cancel)."""


class State(Enum):
    AUTHORIZATION = "authorization"
    TRANSACTION = "transaction"
    UPDATE = "update"
