"""Relay sessions kept open between messages, as Postfix's SMTP connection cache keeps them.

Opening a relay session costs a TCP connection, EHLO, a STARTTLS handshake, the certificate
checked as the policy demands and EHLO again: far more, at both ends, than the mail
transaction itself. RFC 5321 (sections 3.3 and 4.1.4) lets one session carry several
transactions, so after a delivery the session is kept a short while (`idle_limit`, Postfix's
smtp_connection_cache_time_limit, 2 s) for the next message to the same MX, then ended with
QUIT. A session is handed only to a message that needs exactly what it was verified under:
the same MX host, address and port, and the same TLS policy (DANE, MTA-STS, REQUIRETLS or
none), so nothing rides a session checked less strictly than its own policy demands. A
session carries at most `count_limit` messages and lives at most `age_limit` seconds
(Postfix's smtp_connection_reuse_count_limit and smtp_connection_reuse_time_limit).

The cache holds only idle sessions: one in use belongs to its message, and the MTA's
bounds on sessions per destination count it there, so a destination never has more
sessions open, idle ones included, than it had messages in delivery at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

import aiosmtplib

from mua.core.legs import Leg
from mua.stack.tls_policy import TlsPolicy

log = logging.getLogger(__name__)

IDLE_LIMIT = 2.0  # Postfix: smtp_connection_cache_time_limit
AGE_LIMIT = 300.0  # Postfix: smtp_connection_reuse_time_limit
COUNT_LIMIT = 100  # Postfix: smtp_connection_reuse_count_limit
QUIT_TIMEOUT = 2.0  # an idle session's QUIT; a server that does not answer is cut off


@dataclass(frozen=True)
class SessionKey:
    """What a session was opened to and verified under; only an equal key may reuse it."""

    mx_host: str
    address: str
    port: int
    policy: TlsPolicy


@dataclass(eq=False)
class RelaySession:
    """An open relay session, past EHLO and STARTTLS: what each message sent over it records
    (the leg, as observed at its handshake, and the policy's name) and the MAIL FROM options
    its policy asks for."""

    key: SessionKey
    client: aiosmtplib.SMTP
    leg: Leg
    policy: str | None
    mail_options: list[str]
    remote: str
    opened: float = field(default_factory=time.monotonic)
    messages: int = 0  # transactions it has carried
    _expiry: asyncio.TimerHandle | None = None


async def end_session(client: aiosmtplib.SMTP, timeout: float | None = None) -> None:
    """QUIT, or close the connection when QUIT fails; a cancellation still closes it."""
    try:
        await client.quit(timeout=timeout)
    except aiosmtplib.SMTPException:
        client.close()
    except BaseException:  # a timeout, or cancelled during QUIT: close anyway
        client.close()
        raise


class SessionCache:
    def __init__(
        self,
        *,
        idle_limit: float = IDLE_LIMIT,
        age_limit: float = AGE_LIMIT,
        count_limit: int = COUNT_LIMIT,
    ) -> None:
        self.idle_limit = idle_limit
        self.age_limit = age_limit
        self.count_limit = count_limit
        self._idle: dict[SessionKey, list[RelaySession]] = {}
        self._ending: set[asyncio.Task[None]] = set()

    @property
    def idle(self) -> int:
        """How many sessions wait for a message now."""
        return sum(len(idle) for idle in self._idle.values())

    def take(self, key: SessionKey) -> RelaySession | None:
        """An idle session opened under `key`, still connected, or None."""
        idle = self._idle.get(key)
        while idle:
            session = idle.pop()
            if not idle:
                del self._idle[key]
            if session._expiry is not None:
                session._expiry.cancel()
                session._expiry = None
            if session.client.is_connected:
                return session
            session.client.close()  # the server ended it while it was idle
            idle = self._idle.get(key)
        return None

    def give_back(self, session: RelaySession) -> None:
        """Keep `session`, after a transaction that ended cleanly, for the next message to
        its key; a session past its limits is ended instead."""
        worn = session.messages >= self.count_limit
        old = time.monotonic() - session.opened >= self.age_limit
        if worn or old or not session.client.is_connected:
            self._end(session)
            return
        loop = asyncio.get_running_loop()
        session._expiry = loop.call_later(self.idle_limit, self._expire, session)
        self._idle.setdefault(session.key, []).append(session)

    async def close(self) -> None:
        """End every idle session (QUIT) and wait for those being ended."""
        sessions = [s for idle in self._idle.values() for s in idle]
        self._idle.clear()
        for session in sessions:
            if session._expiry is not None:
                session._expiry.cancel()
            self._end(session)
        if self._ending:
            await asyncio.wait(list(self._ending))

    def _expire(self, session: RelaySession) -> None:
        idle = self._idle.get(session.key, [])
        if session in idle:
            idle.remove(session)
            if not idle:
                del self._idle[session.key]
            self._end(session)

    def _end(self, session: RelaySession) -> None:
        task = asyncio.get_running_loop().create_task(self._quit(session))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _quit(self, session: RelaySession) -> None:
        with contextlib.suppress(Exception):  # it carries nothing now: closed either way
            await end_session(session.client, QUIT_TIMEOUT)
        log.debug("relay session to %s ended after %d messages", session.remote, session.messages)
