"""How many connections a listener of the world takes, in all and from one address.

Every listener (MSA 465/587, MX 25, IMAP 993/143) counts its open connections in a
`ConnectionGate`; one over either limit is answered with a refusal and closed at once
(SMTP `421 4.7.0`, RFC 5321 section 3.8; IMAP `* BYE [UNAVAILABLE]`, RFC 5530), before
any session state is built. Postfix does the same per service (`process_limit`, anvil's
`smtpd_client_connection_count_limit` = 50) and Dovecot per user and address
(`mail_max_userip_connections`). Without it 1,000 IMAP sessions and 2,000 idle sockets took
the world from 50 MB to 1.2 GB (issue 14).

When a listener is more than half full it is under stress, and a new connection gets the
short `stress_idle_timeout` instead of the listener's idle timeout, as Postfix's
`smtpd_timeout = ${stress?{10}:{300}}s` does: idle sockets cannot hold the slots for the
5 minutes RFC 5321 section 4.5.3.2.7 grants a client in normal times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass


@dataclass(frozen=True)
class ConnectionLimits:
    total: int = 500  # open connections per listener
    per_address: int = 100  # open connections per listener from one client address
    stress_idle_timeout: float = 10.0  # idle timeout of a connection made under stress


class ConnectionGate:
    """The open connections of one listener: admitted, refused, released."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.open = 0
        self._by_address: Counter[str] = Counter()

    def admit(self, address: str) -> str | None:
        """Count a new connection from `address`; None when it may go on, else why not (a
        phrase for the refusal: "too many connections from 127.0.0.1")."""
        if self.open >= self.limits.total:
            return "too many connections"
        if self._by_address[address] >= self.limits.per_address:
            return f"too many connections from {address}"
        self.open += 1
        self._by_address[address] += 1
        return None

    def release(self, address: str) -> None:
        """An admitted connection from `address` ended."""
        self.open -= 1
        self._by_address[address] -= 1
        if self._by_address[address] <= 0:
            del self._by_address[address]

    @property
    def stressed(self) -> bool:
        return self.open * 2 > self.limits.total

    def idle_timeout(self, normal: float) -> float:
        """The idle timeout for a connection admitted now."""
        return min(normal, self.limits.stress_idle_timeout) if self.stressed else normal
