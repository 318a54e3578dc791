"""One SMTP submission session (RFC 6409 over RFC 5321) in a thread of its own, on a blocking
socket: the command loop of the world's MSA (mua/stack/msa.py).

Why not aiosmtpd, which the MX still uses: submission is the hot path of a burst, and over
one TLS session a message is four round trips. Measured with the same client, the same
certificate and the same fsync'ed write per message (2,000 messages, 2 cores), aiosmtpd
answered 471 to 494 messages/s and this loop 593 to 598 (aiosmtpd's own time per message about
0.5 ms, this one's 0.1 ms: asyncio's streams and Python-level TLS transport against
OpenSSL's blocking reads and writes in C); with a second process busy on the other core,
433 against 575 to 597. The MSA runs in a process of its own (mua/stack/msa_process.py), so its
threads share the GIL with nothing else.

The replies are aiosmtpd's where the world's tests and clients know them, with the enhanced
status codes of RFC 3463 where aiosmtpd gave none that matter to a client.
"""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mua.core.tls_facts import TlsFacts, TlsMode
from mua.net.tls import facts_from_ssl_object
from mua.stack.chaos import SMTP_PERMANENT, SMTP_TEMPORARY, Disruption, Fault, pick
from mua.stack.smtp_paths import REQUIRETLS, split_path
from mua.stack.smtp_wire import ClientGone, MemoryBudget, SmtpWire
from mua.stack.users import Mailbox

log = logging.getLogger(__name__)

COMMAND_LIMIT = 512  # RFC 5321 section 4.5.3.1.4, with its CRLF
MAIL_LIMIT = COMMAND_LIMIT + 26  # room for SIZE= (RFC 1870 section 3)
AUTH_LINE_LIMIT = 12288 + 2  # RFC 4954 section 4: an OAuth2 token's line is ~1.5 KB
DATA_LINE_LIMIT = 1001  # RFC 5321 section 4.5.3.1.6: 1,000 octets with the CRLF (aiosmtpd's)
BOGUS_LIMIT = 5  # unknown commands before the session is closed
ALLOWED_BEFORE_STARTTLS = frozenset({"NOOP", "EHLO", "STARTTLS", "QUIT"})
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_INVALID = "535 5.7.8 Authentication credentials invalid"
NEEDS_ENCRYPTION = "538 5.7.11 Encryption required for requested authentication mechanism"
MECHANISMS = ("LOGIN", "OAUTHBEARER", "PLAIN", "XOAUTH2")
SYNTAX = {
    "AUTH": "AUTH <mechanism>",
    "DATA": "DATA",
    "EHLO": "EHLO hostname",
    "HELO": "HELO hostname",
    "HELP": "HELP [command]",
    "MAIL": "MAIL FROM: <address>",
    "NOOP": "NOOP [ignored]",
    "QUIT": "QUIT",
    "RCPT": "RCPT TO: <address>",
    "RSET": "RSET",
    "STARTTLS": "STARTTLS",
    "VRFY": "VRFY <address>",
}


@dataclass
class Transaction:
    """One MAIL FROM ... DATA: the envelope of a message."""

    mail_from: str | None = None
    mail_options: list[str] = field(default_factory=list)
    rcpt_tos: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Submitted:
    """What the session knows of a message at the end of its DATA."""

    mailbox: Mailbox
    helo: str
    peer_ip: str
    tls: TlsFacts
    transaction: Transaction
    data: bytes


class SubmissionRules(Protocol):
    """The MSA's decisions (mua.stack.msa.SubmissionHandler); each answers with a reply."""

    hostname: str

    def check_password(
        self, mechanism: str, login: str, password: str, peer: str
    ) -> Mailbox | None: ...

    def check_bearer(
        self, mechanism: str, message: bytes, peer: str
    ) -> Mailbox | BearerRefusal: ...

    def sender(self, mailbox: Mailbox, address: str) -> str | None: ...

    def recipient(self, address: str) -> str | None: ...

    def queue_message(self, message: Submitted) -> str: ...


@dataclass(frozen=True)
class BearerRefusal:
    """A bearer token refused: `challenge` (the RFC 7628 error challenge, sent first and
    answered by the client with a dummy) then `reply`; or a `reply` alone."""

    reply: str
    challenge: bytes | None = None


@dataclass(frozen=True)
class Listener:
    """How one listener of the MSA behaves."""

    role: int  # 465, 587 or 25
    implicit: bool  # TLS from the first byte (the 465 role)
    starttls: Callable[[SmtpWire], None] | None  # upgrades a wire; None: STARTTLS not offered
    require_tls: bool  # no command but EHLO, NOOP, STARTTLS, QUIT before STARTTLS
    data_size_limit: int
    max_recipients: int
    chaos: Callable[[str], Disruption | None] | None  # the listener's fault source
    budget: MemoryBudget  # message data all the MSA's sessions may hold at once


class _Closed(Exception):
    """The session ends after the reply just written (QUIT, a chaos 421, too many errors)."""


class SessionLoop:
    """The command loop and the commands of the session itself; the mail transaction's are in
    mua/stack/submission_commands.py."""

    def __init__(self, wire: SmtpWire, rules: SubmissionRules, listener: Listener) -> None:
        self.wire = wire
        self.rules = rules
        self.listener = listener
        self.helo: str | None = None
        self.extended = False
        self.mailbox: Mailbox | None = None
        self.transaction = Transaction()
        self._bogus = BOGUS_LIMIT
        self._facts: tuple[ssl.SSLSocket, TlsFacts] | None = None  # tls_facts(), per session

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> None:
        """Serve until the client quits or goes; the wire is closed at the end."""
        try:
            self.reply(f"220 {self.rules.hostname} mua")
            while True:
                line, too_long = self.wire.readline(AUTH_LINE_LIMIT)
                self._command(line, too_long)
        except (ClientGone, _Closed):
            pass
        finally:
            self.wire.close()

    def reply(self, text: str) -> None:
        self.wire.write(text)

    def _command(self, raw: bytes, too_long: bool) -> None:
        line = raw.rstrip(b"\r\n")
        if too_long:
            self.reply("500 Command line too long")
            return
        if not line:
            self.reply("500 Error: bad syntax")
            return
        verb, _, rest = line.partition(b" ")
        try:
            command = verb.upper().decode("ascii")
            arg = rest.strip().decode("ascii") or None
        except UnicodeDecodeError:  # SMTPUTF8 is not offered: commands are ASCII
            self.reply(
                "500 Error: bad syntax" if not verb.isascii() else "500 Error: strict ASCII mode"
            )
            return
        if len(line) > self._size_limit(command):
            self.reply("500 Command line too long")
            return
        if (
            self.listener.require_tls
            and self.wire.tls is None
            and command not in ALLOWED_BEFORE_STARTTLS
        ):
            self.reply("530 5.7.0 Must issue a STARTTLS command first")
            return
        method = getattr(self, f"smtp_{command}", None) if command.isalpha() else None
        if method is None:
            self._bogus -= 1
            if self._bogus < 1:
                self.reply("502 5.5.1 Too many unrecognized commands, goodbye.")
                raise _Closed
            self.reply(f'500 Error: command "{command}" not recognized')
            return
        if command != "QUIT" and self._chaos(command):
            return
        method(arg)

    def _size_limit(self, command: str) -> int:
        if not self.extended:
            return COMMAND_LIMIT
        return {"AUTH": AUTH_LINE_LIMIT, "MAIL": MAIL_LIMIT}.get(command, COMMAND_LIMIT)

    def _chaos(self, command: str) -> bool:
        """`mua stack --chaos` (mua.stack.chaos): whether a fault took the command's place.
        A stall delays the work; a client gone meanwhile means it is never done."""
        if self.listener.chaos is None:
            return False
        disruption = self.listener.chaos(command)
        if disruption is None:
            return False
        if disruption.fault is Fault.STALL:
            time.sleep(disruption.seconds)
            if not self.wire.still_there():
                raise ClientGone("gone during a stall")
            return False
        if disruption.fault is Fault.DROP:
            raise ClientGone("dropped by chaos")
        replies = SMTP_TEMPORARY if disruption.fault is Fault.TEMPORARY else SMTP_PERMANENT
        reply = pick(replies, disruption).format(host=self.rules.hostname)
        self.reply(reply)
        if reply.startswith("421"):
            raise _Closed
        return True

    # -- state checks ----------------------------------------------------------------------

    def _needs_helo(self, helo: str = "HELO") -> bool:
        if self.helo is None:
            self.reply(f"503 Error: send {helo} first")
            return True
        return False

    def _needs_auth(self) -> bool:
        if self.mailbox is None:
            self.reply("530 5.7.0 Authentication required")
            return True
        return False

    def tls_facts(self) -> TlsFacts:
        """What protected this session, seen from the server: it does not know whether the
        client verified our certificate, so `verified` is None."""
        tls = self.wire.tls
        if tls is None:
            return TlsFacts.cleartext()
        if self._facts is None or self._facts[0] is not tls:  # once per TLS session
            mode = TlsMode.IMPLICIT if self.listener.implicit else TlsMode.STARTTLS
            self._facts = (tls, facts_from_ssl_object(tls, mode, verified=None))
        return self._facts[1]

    # -- greeting and session commands -----------------------------------------------------

    def _greeted(self, arg: str | None, command: str) -> bool:
        """HELO or EHLO `arg`: a new session state (RFC 5321 section 4.1.4), False after a
        syntax error."""
        if not arg:
            self.reply(f"501 Syntax: {command} hostname")
            return False
        self.transaction = Transaction()
        self.extended = command == "EHLO"
        self.helo = arg
        return True

    def smtp_HELO(self, arg: str | None) -> None:
        if self._greeted(arg, "HELO"):
            self.reply(f"250 {self.rules.hostname}")

    def smtp_EHLO(self, arg: str | None) -> None:
        if not self._greeted(arg, "EHLO"):
            return
        tls = self.wire.tls is not None
        lines = [self.rules.hostname, f"SIZE {self.listener.data_size_limit}", "8BITMIME"]
        if self.listener.starttls is not None and not tls:
            lines.append("STARTTLS")
        if tls or not self.listener.require_tls:
            lines.append("AUTH " + " ".join(MECHANISMS))
        if tls:  # RFC 8689 section 2: the parameter is for TLS sessions only
            lines.append(REQUIRETLS)
        lines.append("HELP")
        self.reply("\r\n".join([*(f"250-{line}" for line in lines[:-1]), f"250 {lines[-1]}"]))

    def smtp_NOOP(self, arg: str | None) -> None:
        self.reply("250 OK")

    def smtp_QUIT(self, arg: str | None) -> None:
        if arg:
            self.reply("501 Syntax: QUIT")
            return
        self.reply("221 Bye")
        raise _Closed

    def smtp_RSET(self, arg: str | None) -> None:
        if arg:
            self.reply("501 Syntax: RSET")
            return
        self.transaction = Transaction()
        self.reply("250 OK")

    def smtp_STARTTLS(self, arg: str | None) -> None:
        if arg:
            self.reply("501 Syntax: STARTTLS")
            return
        if self.listener.starttls is None:
            self.reply("454 TLS not available")
            return
        if self.wire.tls is not None:
            self.reply("503 5.5.1 Error: TLS already active")
            return
        self.reply("220 Ready to start TLS")
        self.listener.starttls(self.wire)
        # RFC 3207 section 4.2: forget what the client said in clear; it says EHLO again.
        self.helo, self.extended = None, False
        self.transaction = Transaction()

    def smtp_HELP(self, arg: str | None) -> None:
        if self._needs_auth():
            return
        if arg and arg.upper() in self._commands():
            self.reply(f"250 Syntax: {SYNTAX[arg.upper()]}")
            return
        code = 501 if arg else 250
        self.reply(f"{code} Supported commands: {' '.join(self._commands())}")

    def _commands(self) -> list[str]:
        return sorted(c for c in SYNTAX if c != "STARTTLS" or self.listener.starttls)

    def smtp_VRFY(self, arg: str | None) -> None:
        if self._needs_auth():
            return
        if not arg:
            self.reply("501 Syntax: VRFY <address>")
        elif split_path(arg)[0] is None:
            self.reply(f"502 Could not VRFY {arg}")
        else:
            self.reply("252 Cannot VRFY user, but will accept message and attempt delivery")

    def smtp_EXPN(self, arg: str | None) -> None:
        self.reply("502 EXPN not implemented")
